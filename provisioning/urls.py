from django.urls import path

from . import views

app_name = "provisioning"

urlpatterns = [
    path("servers/", views.server_list, name="server_list"),
    path("servers/new/", views.server_create, name="server_create"),
    path("servers/<uuid:public_id>/", views.server_detail, name="server_detail"),
    path("servers/<uuid:public_id>/live/", views.server_live, name="server_live"),
    path("servers/<uuid:public_id>/power/<str:action>/", views.server_power, name="server_power"),
    path("servers/<uuid:public_id>/resize/", views.server_resize, name="server_resize"),
    path("servers/<uuid:public_id>/rename/", views.server_rename, name="server_rename"),
    path("servers/<uuid:public_id>/reinstall/", views.server_reinstall, name="server_reinstall"),
    path("servers/<uuid:public_id>/delete/", views.server_delete, name="server_delete"),
]
