from django.urls import path

from . import requests_views, tokens, views

app_name = "tenants"

urlpatterns = [
    path("welcome/", views.onboarding, name="onboarding"),
    path("tenant/switch/", views.switch, name="switch"),
    path("tenant/settings/", views.tenant_settings, name="settings"),
    path("team/", views.team, name="team"),
    path("team/leave/", views.leave, name="leave"),
    path("team/members/<uuid:public_id>/role/", views.member_role, name="member_role"),
    path("team/members/<uuid:public_id>/remove/", views.member_remove, name="member_remove"),
    path("team/invitations/<uuid:invitation_id>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("ssh-keys/", views.ssh_keys, name="ssh_keys"),
    path("ssh-keys/<uuid:key_id>/delete/", views.ssh_key_delete, name="ssh_key_delete"),
    path("activity/", views.audit, name="audit"),
    path("api-tokens/", tokens.api_tokens, name="api_tokens"),
    path("api-tokens/<uuid:public_id>/revoke/", tokens.api_token_revoke, name="api_token_revoke"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("requests/", requests_views.request_list, name="request_list"),
    path("requests/new/", requests_views.request_create, name="request_create"),
]
