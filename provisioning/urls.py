from django.urls import path

from . import network_views as network
from . import safety_views as safety
from . import views

app_name = "provisioning"

urlpatterns = [
    path("servers/", views.server_list, name="server_list"),
    path("servers/new/", views.server_create, name="server_create"),
    path("servers/<uuid:public_id>/", views.server_detail, name="server_detail"),
    path("servers/<uuid:public_id>/live/", views.server_live, name="server_live"),
    path("servers/<uuid:public_id>/power/<str:action>/", views.server_power, name="server_power"),
    path("servers/<uuid:public_id>/auto-restart/", views.server_auto_restart, name="server_auto_restart"),
    path("servers/<uuid:public_id>/resize/", views.server_resize, name="server_resize"),
    path("servers/<uuid:public_id>/rename/", views.server_rename, name="server_rename"),
    path("servers/<uuid:public_id>/reinstall/", views.server_reinstall, name="server_reinstall"),
    path("servers/<uuid:public_id>/delete/", views.server_delete, name="server_delete"),
    path("servers/<uuid:public_id>/snapshots/", safety.snapshot_create, name="snapshot_create"),
    path("servers/<uuid:public_id>/snapshots/before-update/", safety.snapshot_before_update, name="snapshot_before_update"),
    path("servers/<uuid:public_id>/snapshots/<str:name>/rollback/", safety.snapshot_rollback, name="snapshot_rollback"),
    path("servers/<uuid:public_id>/snapshots/<str:name>/delete/", safety.snapshot_delete, name="snapshot_delete"),
    path("servers/<uuid:public_id>/backups/", safety.backup_create, name="backup_create"),
    path("servers/<uuid:public_id>/backup-policy/", safety.backup_policy, name="backup_policy"),
    path("servers/<uuid:public_id>/ha/", safety.ha_toggle, name="ha_toggle"),
    path("servers/<uuid:public_id>/staging/", safety.staging_create, name="staging_create"),
    path("servers/<uuid:public_id>/promote/", safety.staging_promote, name="staging_promote"),
    path("servers/<uuid:public_id>/graphs/", safety.server_graphs, name="server_graphs"),
    path("servers/<uuid:public_id>/network/", network.server_network, name="server_network"),
    path("servers/<uuid:public_id>/network/ptr/<str:address>/delete/", network.ptr_delete, name="ptr_delete"),
    path("backups/", safety.backup_list, name="backup_list"),
    path("backups/<uuid:public_id>/restore/", safety.backup_restore, name="backup_restore"),
    path("backups/<uuid:public_id>/delete/", safety.backup_delete, name="backup_delete"),
    path("backups/<uuid:public_id>/protect/", safety.backup_protect, name="backup_protect"),
]
