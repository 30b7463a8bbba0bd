"""Reconcile: one call per cluster, follows Proxmox, flags drift and never deletes."""

from proxmoxer import ProxmoxAPI

from provisioning import actions
from provisioning.models import Drift, Server
from provisioning.reconcile import reconcile_cluster

from .conftest import wait_done


def prox(pve):
    return ProxmoxAPI("127.0.0.1", port=pve.port, user="root@pam", token_name="portal", token_value=pve.token_secret, verify_ssl=pve.ca_cert_path)


def built(tenant, image, hostname="web-01"):
    server = actions.server_create(tenant=tenant, image=image, hostname=hostname, cores=1, memory_mb=512, disk_gb=8, password="long-enough")
    wait_done(server.operations.get())
    server.refresh_from_db()
    return server


def test_it_reads_proxmox_once_per_cluster(cluster, pve):
    before = sum(pve.request_counts().values())
    reconcile_cluster(cluster)
    counts = pve.request_counts()
    assert sum(counts.values()) - before == 1
    assert cluster.nodes.count() == 3
    node = cluster.nodes.get(name="pve")
    assert node.status == "online" and node.max_cores == 32 and node.max_memory_mb == 128 * 1024


def test_it_follows_changes_made_in_the_proxmox_ui(tenant_a, ct_image, cluster, pve, worker):
    server = built(tenant_a, ct_image)
    upid = prox(pve).nodes(server.node.name).lxc(server.vmid).status.stop.post()
    pve.wait_idle()
    assert upid
    reconcile_cluster(cluster)
    server.refresh_from_db()
    assert server.status == Server.Status.STOPPED


def test_it_flags_a_server_missing_in_proxmox_without_deleting_it(tenant_a, ct_image, cluster, pve, worker):
    server = built(tenant_a, ct_image)
    api = prox(pve)
    api.nodes(server.node.name).lxc(server.vmid).status.stop.post()
    pve.wait_idle()
    api.nodes(server.node.name).lxc(server.vmid).delete()
    pve.wait_idle()
    reconcile_cluster(cluster)
    server.refresh_from_db()
    assert server.status == Server.Status.UNAVAILABLE and server.vmid is not None
    assert Drift.objects.filter(kind=Drift.Kind.MISSING, vmid=server.vmid, resolved_at=None).count() == 1
    reconcile_cluster(cluster)
    assert Drift.objects.filter(kind=Drift.Kind.MISSING).count() == 1, "drift is recorded once, not per run"


def test_it_flags_unknown_guests_in_the_portal_range_and_skips_their_vmid(tenant_a, ct_image, cluster, pve, worker):
    api = prox(pve)
    api.nodes("pve").lxc.post(vmid=100, ostemplate="local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", hostname="rogue")
    pve.wait_idle()
    reconcile_cluster(cluster)
    drift = Drift.objects.get(kind=Drift.Kind.UNKNOWN)
    assert (drift.vmid, drift.guest_name, drift.node_name) == (100, "rogue", "pve")
    server = built(tenant_a, ct_image)
    assert server.vmid == 101


def test_a_vmid_taken_behind_the_portals_back_is_skipped_at_build_time(tenant_a, ct_image, cluster, pve, worker):
    prox(pve).nodes("pve2").lxc.post(vmid=100, ostemplate="local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", hostname="rogue")
    pve.wait_idle()
    server = built(tenant_a, ct_image)  # the portal has not reconciled: it first picks 100
    assert server.status == Server.Status.RUNNING
    assert server.vmid == 101
    assert Drift.objects.filter(kind=Drift.Kind.UNKNOWN, vmid=100).exists()


def test_live_figures_go_to_the_cache_and_unchanged_rows_are_not_written(tenant_a, ct_image, cluster, pve, worker):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from provisioning import live

    server = built(tenant_a, ct_image)
    reconcile_cluster(cluster)
    figures = live.for_servers([server])[server.pk]
    assert figures.uptime >= 0 and figures.memory_used_mb > 0 and figures.seen_at is not None
    with CaptureQueriesContext(connection) as ctx:
        reconcile_cluster(cluster)
    assert not any(q["sql"].startswith('UPDATE "provisioning_server"') for q in ctx.captured_queries)
    stop = prox(pve).nodes(server.node.name).lxc(server.vmid).status.stop.post()
    assert stop
    pve.wait_idle()
    reconcile_cluster(cluster)
    server.refresh_from_db()
    assert server.status == Server.Status.STOPPED
