from django.urls import path

from . import views

app_name = "staff"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("clusters/<int:pk>/reconcile/", views.cluster_reconcile, name="cluster_reconcile"),
    path("clusters/<int:pk>/test/", views.cluster_test, name="cluster_test"),
    path("nodes/<int:pk>/", views.node_detail, name="node"),
    path("nodes/<int:pk>/graphs/", views.node_graphs, name="node_graphs"),
    path("nodes/<int:pk>/maintenance/", views.node_maintenance, name="node_maintenance"),
    path("nodes/<int:pk>/drain/", views.node_drain, name="node_drain"),
    path("nodes/<int:pk>/check/", views.node_check, name="node_check"),
    path("nodes/<int:pk>/announce/", views.node_announce, name="node_announce"),
    path("operations/", views.operations, name="operations"),
    path("operations/<uuid:public_id>/retry/", views.operation_retry, name="operation_retry"),
    path("operations/<uuid:public_id>/cancel/", views.operation_cancel, name="operation_cancel"),
    path("drift/", views.drift_list, name="drift_list"),
    path("drift/<int:pk>/adopt/", views.drift_adopt, name="drift_adopt"),
    path("drift/<int:pk>/deleted/", views.drift_deleted, name="drift_deleted"),
    path("drift/<int:pk>/ignore/", views.drift_ignore, name="drift_ignore"),
    path("drift/<int:pk>/firewall/", views.drift_firewall, name="drift_firewall"),
    path("marketplace/", views.marketplace, name="marketplace"),
    path("marketplace/<int:pk>/approve/", views.marketplace_approve, name="marketplace_approve"),
    path("marketplace/<int:pk>/fetch/", views.marketplace_fetch, name="marketplace_fetch"),
    path("requests/", views.requests, name="requests"),
    path("requests/<uuid:public_id>/", views.request_answer, name="request_answer"),
    path("consoles/", views.consoles, name="consoles"),
    path("consoles/<uuid:public_id>/end/", views.console_end, name="console_end"),
]
