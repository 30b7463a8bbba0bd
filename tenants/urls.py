from django.urls import path

from . import views

app_name = "tenants"

urlpatterns = [
    path("welcome/", views.onboarding, name="onboarding"),
    path("tenant/switch/", views.switch, name="switch"),
    path("team/", views.team, name="team"),
    path("ssh-keys/", views.ssh_keys, name="ssh_keys"),
    path("activity/", views.audit, name="audit"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
]
