"""Staff actions against the simulated cluster: suspension, drift, maintenance, checks; all audited via admin."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from provisioning import actions
from provisioning.models import Drift, Node, NodeMetrics, Operation, Server
from provisioning.proxmox import PVE
from provisioning.reconcile import reconcile_cluster
from tenants.models import AuditEvent, Tenant
from tests.provisioning.conftest import wait_done, wait_for

from .conftest import client_for


def build(tenant, image, hostname):
    server = actions.server_create(tenant=tenant, image=image, hostname=hostname, cores=1, memory_mb=512, disk_gb=4)
    op = wait_done(server.operations.get())
    assert op.state == Operation.State.SUCCEEDED, op.error
    server.refresh_from_db()
    return server


def guest(pve, vmid):
    return next((g for g in pve.state()["guests"] if g["vmid"] == vmid), None)


def test_suspension_stops_running_servers_and_unsuspension_restarts_only_those(tenant_a, ct_image, pve, worker, dora):
    web, files = build(tenant_a, ct_image, "web"), build(tenant_a, ct_image, "files")
    wait_done(actions.server_power(server=files, action=Operation.Kind.STOP))

    stops = actions.tenant_suspend(tenant=tenant_a, user=dora, reason="unpaid invoices")
    assert [op.server for op in stops] == [web]
    wait_done(stops[0])
    tenant_a.refresh_from_db()
    assert tenant_a.status == Tenant.Status.SUSPENDED
    assert guest(pve, web.vmid)["status"] == "stopped"
    with pytest.raises(ValidationError, match="suspended"):
        actions.server_power(server=web, action=Operation.Kind.START)

    starts = actions.tenant_unsuspend(tenant=tenant_a, user=dora)
    assert [op.server for op in starts] == [web]
    wait_done(starts[0])
    assert guest(pve, web.vmid)["status"] == "running"
    assert guest(pve, files.vmid)["status"] == "stopped", "a server stopped before the suspension stays stopped"
    assert actions.tenant_suspend(tenant=tenant_a, user=dora, reason="unpaid invoices") and actions.tenant_unsuspend(tenant=tenant_a, user=dora)
    events = AuditEvent.objects.filter(tenant=tenant_a, action__startswith="tenant.")
    assert {e.via for e in events} == {AuditEvent.Via.ADMIN} and events.count() == 4


def test_the_admin_asks_for_confirmation_and_a_reason_before_suspending(dora_client, tenant_a):
    url, chosen = reverse("admin:tenants_tenant_changelist"), {"action": "suspend_tenants", "_selected_action": [tenant_a.pk]}
    page = dora_client.post(url, chosen)
    assert page.status_code == 200 and "no running servers" in page.content.decode()
    page = dora_client.post(url, {**chosen, "confirmed": "1", "reason": "  "})
    assert "Please give a reason" in page.content.decode()
    tenant_a.refresh_from_db()
    assert tenant_a.status == Tenant.Status.ACTIVE
    response = dora_client.post(url, {**chosen, "confirmed": "1", "reason": "Invoice R-2026-0001 unpaid"})
    assert response.status_code == 302
    tenant_a.refresh_from_db()
    assert tenant_a.status == Tenant.Status.SUSPENDED
    event = AuditEvent.objects.get(action="tenant.suspend")
    assert event.via == AuditEvent.Via.ADMIN and event.actor_label == "dora@jiku.example"
    assert event.details["reason"] == "Invoice R-2026-0001 unpaid"


def test_a_suspension_without_a_reason_is_refused_whatever_the_door(tenant_a, dora):
    with pytest.raises(ValidationError, match="reason"):
        actions.tenant_suspend(tenant=tenant_a, user=dora, reason="")
    tenant_a.refresh_from_db()
    assert tenant_a.status == Tenant.Status.ACTIVE


def test_test_connection_reports_version_nodes_and_missing_privileges(cluster, pve, dora):
    result = actions.cluster_test_connection(cluster=cluster, user=dora)
    assert result["ok"] and result["version"] == "9.1.1"
    assert [n["name"] for n in result["nodes"]] == ["pve", "pve2", "pve3"]
    pve.set_privileges({"/": ["Sys.Audit", "VM.Audit", "Datastore.Audit"]})
    try:
        result = actions.cluster_test_connection(cluster=cluster, user=dora)
    finally:
        pve.set_privileges(None)
    assert not result["ok"] and "VM.Allocate" in result["missing"] and "VM.Audit" not in result["missing"]
    assert AuditEvent.objects.filter(action="cluster.test_connection", via="admin").count() == 2


def test_an_unreachable_cluster_is_reported_not_raised(cluster, pve, dora):
    pve.go_down()
    try:
        result = actions.cluster_test_connection(cluster=cluster, user=dora)
    finally:
        pve.come_up()
    assert not result["ok"] and "unreachable" in result["error"]


def test_reconcile_now_refreshes_node_graphs_for_the_overview(cluster, pve, dora):
    stats = actions.cluster_reconcile(cluster=cluster, user=dora)
    assert "error" not in stats
    assert NodeMetrics.objects.filter(node__cluster=cluster).count() == 3
    points = NodeMetrics.objects.get(node__name="pve2").points  # 60 rows, the newest still without values
    assert len(points) == 59 and all(0 <= p[1] <= 1 and 0 <= p[2] <= 1 for p in points)
    page = client_for(dora).get(reverse("staff:overview")).content.decode()
    assert page.count("<polyline") == 6 and "pve3" in page


def test_an_unknown_guest_is_adopted_into_a_tenant(cluster, ct_image, pve, worker, tenant_a, tenant_b, dora):
    stray = build(tenant_a, ct_image, "stray")
    vmid = stray.vmid
    Server.objects.filter(pk=stray.pk).delete()  # the portal forgets it; Proxmox still runs it
    reconcile_cluster(cluster)
    drift = Drift.objects.get(kind=Drift.Kind.UNKNOWN, vmid=vmid, resolved_at__isnull=True)
    assert drift.details["type"] == "lxc" and drift.details["status"] == "running"

    prefix = f"d{drift.pk}"
    form = {f"{prefix}-{k}": v for k, v in actions.adopt_defaults(drift).items()}
    form.update({f"{prefix}-tenant": tenant_b.pk, f"{prefix}-hostname": "legacy"})
    response = client_for(dora).post(reverse("staff:drift_adopt", args=[drift.pk]), form)
    assert response.status_code == 302
    server = Server.objects.get(tenant=tenant_b, vmid=vmid)
    assert (server.hostname, server.kind, server.status, server.node.name) == ("legacy", "lxc", "running", guest(pve, vmid)["node"])
    drift.refresh_from_db()
    assert drift.resolution == Drift.Resolution.ADOPTED and drift.server == server
    reconcile_cluster(cluster)
    assert not Drift.objects.filter(vmid=vmid, resolved_at__isnull=True).exists()
    assert AuditEvent.objects.get(action="server.adopt").via == AuditEvent.Via.ADMIN


def test_ignored_drift_is_not_raised_again(cluster, ct_image, pve, worker, tenant_a, dora):
    stray = build(tenant_a, ct_image, "stray")
    Server.objects.filter(pk=stray.pk).delete()
    reconcile_cluster(cluster)
    drift = Drift.objects.get(vmid=stray.vmid, resolved_at__isnull=True)
    actions.drift_ignore(drift=drift, user=dora)
    reconcile_cluster(cluster)
    assert not Drift.objects.filter(vmid=stray.vmid, resolved_at__isnull=True).exists()


def test_a_server_missing_in_proxmox_is_written_off(cluster, ct_image, pve, worker, tenant_a, dora):
    server = build(tenant_a, ct_image, "ghost")
    node = guest(pve, server.vmid)["node"]
    # Someone removes the guest in the Proxmox UI, behind the portal's back.
    api = PVE(cluster)
    api.power(node=node, kind="lxc", vmid=server.vmid, action="stop")
    wait_for(lambda: guest(pve, server.vmid)["status"] == "stopped", message="stopped in Proxmox")
    api.destroy(node=node, kind="lxc", vmid=server.vmid)
    wait_for(lambda: guest(pve, server.vmid) is None, message="gone from Proxmox")
    reconcile_cluster(cluster)
    drift = Drift.objects.get(kind=Drift.Kind.MISSING, vmid=server.vmid, resolved_at__isnull=True)
    response = client_for(dora).post(reverse("staff:drift_deleted", args=[drift.pk]))
    assert response.status_code == 302
    server.refresh_from_db()
    assert server.status == Server.Status.DELETED and server.vmid is None and server.ipv4 is None
    drift.refresh_from_db()
    assert drift.resolution == Drift.Resolution.DELETED
    with pytest.raises(ValidationError, match="resolved already"):
        actions.drift_ignore(drift=drift, user=dora)
    assert AuditEvent.objects.get(action="drift.mark_deleted").via == AuditEvent.Via.ADMIN


def test_new_orders_avoid_a_node_in_maintenance(cluster, ct_image, pve, tenant_a, dora):
    pve2 = Node.objects.get(cluster=cluster, name="pve2")
    actions.node_set_maintenance(node=pve2, maintenance=True, user=dora)
    for i in range(6):
        server = actions.server_create(tenant=tenant_a, image=ct_image, hostname=f"n{i}", cores=1, memory_mb=512, disk_gb=4)
        assert server.node.name != "pve2"
    actions.node_set_maintenance(node=pve2, maintenance=False, user=dora)
    assert AuditEvent.objects.filter(action__startswith="node.maintenance", via="admin").count() == 2
