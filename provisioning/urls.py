from django.urls import path

from . import firewall_views as fw
from . import network_views as network
from . import safety_views as safety
from . import views

app_name = "provisioning"

urlpatterns = [
    path("servers/", views.server_list, name="server_list"),
    path("servers/new/", views.server_create, name="server_create"),
    path("servers/<uuid:public_id>/", views.server_detail, name="server_detail"),
    # The server page's sections (provisioning/server_sections.py lists them as tabs).
    path("servers/<uuid:public_id>/graphs/", views.server_graphs_page, name="server_graphs_page"),
    path("servers/<uuid:public_id>/snapshots/", views.server_snapshots, name="server_snapshots"),
    path("servers/<uuid:public_id>/backups/", views.server_backups, name="server_backups"),
    path("servers/<uuid:public_id>/settings/", views.server_settings, name="server_settings"),
    path("servers/<uuid:public_id>/danger/", views.server_danger, name="server_danger"),
    path("servers/<uuid:public_id>/live/", views.server_live, name="server_live"),
    path("servers/<uuid:public_id>/power/<str:action>/", views.server_power, name="server_power"),
    path("servers/<uuid:public_id>/auto-restart/", views.server_auto_restart, name="server_auto_restart"),
    path("servers/<uuid:public_id>/resize/", views.server_resize, name="server_resize"),
    path("servers/<uuid:public_id>/rename/", views.server_rename, name="server_rename"),
    path("servers/<uuid:public_id>/reinstall/", views.server_reinstall, name="server_reinstall"),
    path("servers/<uuid:public_id>/delete/", views.server_delete, name="server_delete"),
    # The same URLs as the sections: GET shows the section, POST creates (the names the forms and the tests use).
    path("servers/<uuid:public_id>/snapshots/", views.server_snapshots, name="snapshot_create"),
    path("servers/<uuid:public_id>/snapshots/before-update/", safety.snapshot_before_update, name="snapshot_before_update"),
    path("servers/<uuid:public_id>/snapshots/<str:name>/rollback/", safety.snapshot_rollback, name="snapshot_rollback"),
    path("servers/<uuid:public_id>/snapshots/<str:name>/delete/", safety.snapshot_delete, name="snapshot_delete"),
    path("servers/<uuid:public_id>/backups/", views.server_backups, name="backup_create"),
    path("servers/<uuid:public_id>/backup-policy/", safety.backup_policy, name="backup_policy"),
    path("servers/<uuid:public_id>/ha/", safety.ha_toggle, name="ha_toggle"),
    path("servers/<uuid:public_id>/staging/", safety.staging_create, name="staging_create"),
    path("servers/<uuid:public_id>/promote/", safety.staging_promote, name="staging_promote"),
    path("servers/<uuid:public_id>/graphs/data/", safety.server_graphs, name="server_graphs"),
    path("servers/<uuid:public_id>/firewall/", fw.firewall, name="firewall"),
    path("servers/<uuid:public_id>/firewall/options/", fw.firewall_options, name="firewall_options"),
    path("servers/<uuid:public_id>/firewall/preset/", fw.firewall_preset, name="firewall_preset"),
    path("servers/<uuid:public_id>/firewall/rules/", fw.firewall_rule_add, name="firewall_rule_add"),
    path("servers/<uuid:public_id>/firewall/rules/<uuid:rule_id>/move/", fw.firewall_rule_move, name="firewall_rule_move"),
    path("servers/<uuid:public_id>/firewall/rules/<uuid:rule_id>/delete/", fw.firewall_rule_delete,
         name="firewall_rule_delete"),
    path("firewall/address-sets/", fw.address_sets, name="address_sets"),
    path("firewall/address-sets/<uuid:public_id>/", fw.address_set_edit, name="address_set_edit"),
    path("firewall/address-sets/<uuid:public_id>/delete/", fw.address_set_delete, name="address_set_delete"),
    path("servers/<uuid:public_id>/network/", network.server_network, name="server_network"),
    path("servers/<uuid:public_id>/network/ptr/<str:address>/delete/", network.ptr_delete, name="ptr_delete"),
    path("backups/", safety.backup_list, name="backup_list"),
    path("backups/<uuid:public_id>/restore/", safety.backup_restore, name="backup_restore"),
    path("backups/<uuid:public_id>/delete/", safety.backup_delete, name="backup_delete"),
    path("backups/<uuid:public_id>/protect/", safety.backup_protect, name="backup_protect"),
]
