"""Silent failures found by walking the product, each through pvesim with a real worker.

Servers come back after their node does, restores go where the backup can be read, promote moves
the production role, drains report their own outcomes, templates are never drift, and backups
follow a guest that HA moved.
"""

import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from provisioning import actions
from provisioning.models import Backup, BackupPolicy, Drift, Node, Operation, Server
from provisioning.reconcile import AUTO_RESTART_LIMIT, reconcile_cluster
from tenants.models import Duty, Party, Responsibility

from .conftest import wait_done, wait_for
from .test_reconcile import prox
from .test_safety import built, guest, ok


def only_on(cluster, name):
    Node.objects.filter(cluster=cluster).exclude(name=name).update(maintenance=True)


def all_nodes(cluster):
    Node.objects.filter(cluster=cluster).update(maintenance=False)


def stop_behind_the_portals_back(pve, server):
    prox(pve).nodes(server.node.name)(server.kind)(server.vmid).status.stop.post()
    pve.wait_idle()


# --- servers come back after their node ------------------------------------------------------------
@pytest.mark.parametrize("image", ["vm_image", "ct_image"])
def test_servers_are_built_to_start_with_their_node(tenant_a, pve, worker, request, image):
    server = built(tenant_a, request.getfixturevalue(image))
    assert int(guest(pve, server.vmid)["config"]["onboot"]) == 1


def test_servers_that_ran_before_a_node_failure_run_again_after_it(tenant_a, ct_image, cluster, pve, worker):
    only_on(cluster, "pve2")
    running, stopped = built(tenant_a, ct_image, "running"), built(tenant_a, ct_image, "stopped")
    all_nodes(cluster)
    ok(actions.server_power(server=stopped, action=Operation.Kind.STOP))
    pve.fail_node("pve2")
    reconcile_cluster(cluster)
    running.refresh_from_db()
    assert running.status == Server.Status.UNAVAILABLE
    pve.recover_node("pve2")
    wait_for(lambda: guest(pve, running.vmid)["status"] == "running", message="start at boot")
    pve.wait_idle()
    reconcile_cluster(cluster)
    running.refresh_from_db()
    stopped.refresh_from_db()
    assert running.status == Server.Status.RUNNING and not running.stopped_unexpectedly
    # One the customer stopped stays stopped, and nobody calls that unexpected.
    assert stopped.status == Server.Status.STOPPED and not stopped.stopped_unexpectedly
    assert guest(pve, stopped.vmid)["status"] == "stopped"


def test_a_server_that_stops_by_itself_is_shown_as_stopped_unexpectedly(tenant_a, ct_image, cluster, pve, worker, alice_client):
    server = built(tenant_a, ct_image)
    stop_behind_the_portals_back(pve, server)
    stats = reconcile_cluster(cluster)
    server.refresh_from_db()
    assert server.stopped_unexpectedly and stats["stopped_unexpectedly"] == 1 and stats["restarted"] == 0
    assert "Stopped unexpectedly" in server.reason
    assert not Operation.objects.filter(server=server, kind=Operation.Kind.START).exists()
    page = alice_client.get(reverse("provisioning:server_detail", args=[server.public_id])).content.decode()
    assert "Stopped unexpectedly" in page and "Keep it stopped" in page
    # Stopping it through the portal says it is meant to be off.
    ok(actions.server_power(server=server, action=Operation.Kind.STOP))
    reconcile_cluster(cluster)
    server.refresh_from_db()
    assert server.status == Server.Status.STOPPED and not server.stopped_unexpectedly and server.reason == ""


def test_jiku_starts_the_servers_it_monitors_again(tenant_a, ct_image, cluster, pve, worker):
    Responsibility.objects.create(tenant=tenant_a, duty=Duty.MONITORING, party=Party.JIKU)
    server = built(tenant_a, ct_image)
    stop_behind_the_portals_back(pve, server)
    assert reconcile_cluster(cluster)["restarted"] == 1
    ok(Operation.objects.get(server=server, kind=Operation.Kind.START, params__auto_restart=True))
    assert guest(pve, server.vmid)["status"] == "running"
    server.refresh_from_db()
    assert server.status == Server.Status.RUNNING and server.reason == ""


def test_automatic_restarts_give_up_on_a_server_that_keeps_stopping(tenant_a, ct_image, cluster, pve, worker):
    server = built(tenant_a, ct_image)
    actions.server_set_auto_restart(server=server, enabled=True)
    for _ in range(AUTO_RESTART_LIMIT):
        stop_behind_the_portals_back(pve, server)
        assert reconcile_cluster(cluster)["restarted"] == 1
        ok(Operation.objects.filter(server=server, kind=Operation.Kind.START).latest("id"))
    stop_behind_the_portals_back(pve, server)
    assert reconcile_cluster(cluster)["restarted"] == 0
    server.refresh_from_db()
    assert server.stopped_unexpectedly and "gave up" in server.reason


def test_a_freshly_booted_node_gets_time_to_start_its_guests(tenant_a, ct_image, cluster, pve, worker, settings):
    settings.RECONCILE_BOOT_GRACE_SECONDS = 3600
    Responsibility.objects.create(tenant=tenant_a, duty=Duty.MONITORING, party=Party.JIKU)
    server = built(tenant_a, ct_image)
    pve.fail_node(server.node.name)
    pve.recover_node(server.node.name)
    # The node starts its guests a moment after it is back; then one stops again, as if start at
    # boot had not reached it yet.
    wait_for(lambda: guest(pve, server.vmid)["status"] == "running", message="start at boot")
    stop_behind_the_portals_back(pve, server)
    assert reconcile_cluster(cluster)["restarted"] == 0
    server.refresh_from_db()
    assert server.status == Server.Status.STOPPED and "has just started again" in server.reason


# --- restores go where the backup can be read ------------------------------------------------------
def test_a_backup_on_a_nodes_own_storage_is_restored_only_on_that_node(tenant_a, ct_image, cluster, pve, worker):
    cluster.backup_storage = "local"  # not shared: only node pve reads what is backed up there
    cluster.save()
    only_on(cluster, "pve")
    server = built(tenant_a, ct_image)
    ok(actions.backup_create(server=server))
    backup = Backup.objects.get()
    assert (backup.node, backup.storage) == ("pve", "local")
    Node.objects.filter(cluster=cluster).update(maintenance=False)
    Node.objects.filter(cluster=cluster, name="pve").update(maintenance=True)
    with pytest.raises(ValidationError) as info:
        actions.backup_restore(backup=backup, target="new", hostname="copy")
    assert "node pve's own storage" in " ".join(info.value.messages)
    assert not Server.objects.filter(hostname="copy").exists()
    all_nodes(cluster)
    op = ok(actions.backup_restore(backup=backup, target="new", hostname="copy"))
    assert op.server.node.name == "pve"
    # Moved elsewhere, the server cannot be restored in place from that storage.
    ok(actions.server_migrate(server=server, target=cluster.nodes.get(name="pve3")))
    with pytest.raises(ValidationError) as info:
        actions.backup_restore(backup=backup, target="same", confirm=True)
    assert "restore it into a new server" in " ".join(info.value.messages)


def test_a_failed_restore_tells_the_customer_in_the_portals_words(tenant_a, ct_image, pve, worker, alice_client):
    server = built(tenant_a, ct_image)
    ok(actions.backup_create(server=server))
    pve.add_fault(method="POST", path=r"/lxc$", count=-1, task_error="volume 'backup:backup/x.tar.zst' does not exist")
    op = wait_done(actions.backup_restore(backup=Backup.objects.get(), target="new", hostname="copy"))
    assert op.state == Operation.State.FAILED and "does not exist" in op.error
    page = alice_client.get(reverse("provisioning:server_detail", args=[server.public_id])).content.decode()
    copy_page = alice_client.get(reverse("provisioning:server_detail", args=[op.server.public_id])).content.decode()
    for text in (page, copy_page):
        assert "does not exist" not in text and "volume" not in text
    assert "The restore failed" in copy_page


# --- promote moves the production role -------------------------------------------------------------
def test_promote_moves_the_backup_schedule_ha_and_history_to_the_new_production(tenant_a, ct_image, pve, worker, alice_client):
    prod = built(tenant_a, ct_image, "shop")
    actions.backup_policy_set(server=prod, frequency="daily", keep_daily=9)
    ok(actions.ha_set(server=prod, enabled=True))
    copy = ok(actions.staging_create(server=prod)).server
    ok(actions.staging_promote(staging=copy))
    prod.refresh_from_db()
    copy.refresh_from_db()
    policy = BackupPolicy.objects.get()
    assert policy.server == copy and policy.keep_daily == 9
    assert json.loads(policy.periodic_task.args) == [copy.pk]
    assert copy.ha_enabled and not prod.ha_enabled
    assert guest(pve, copy.vmid)["ha"]["managed"] == 1 and guest(pve, prod.vmid)["ha"]["managed"] == 0
    assert copy.predecessor == prod
    page = alice_client.get(reverse("provisioning:server_detail", args=[copy.public_id])).content.decode()
    assert "server.create" in page and "backup.policy" in page, "the production history moved along"


# --- drains report their own outcomes ----------------------------------------------------------------
def test_a_drain_that_cannot_go_on_says_why_to_staff_and_each_move_reports_only_itself(
    tenant_a, tenant_b, ct_image, cluster, pve, worker,
):
    only_on(cluster, "pve2")
    mine = built(tenant_a, ct_image, "mine")
    theirs = built(tenant_b, ct_image, "theirs")
    all_nodes(cluster)
    Node.objects.filter(cluster=cluster, name="pve3").update(maintenance=True)
    Node.objects.filter(cluster=cluster, name="pve").update(max_memory_mb=1536)  # room for one of the two
    first = ok(actions.node_drain(node=cluster.nodes.get(name="pve2")))
    pve2 = cluster.nodes.get(name="pve2")
    wait_for(lambda: Node.objects.get(pk=pve2.pk).drain_error, message="the drain to stop")
    pve2.refresh_from_db()
    moved = Server.objects.get(pk=first.server_id)
    stuck = theirs if moved == mine else mine
    assert first.error == "" and moved.node.name == "pve"
    assert stuck.hostname in pve2.drain_error and pve2.draining
    assert Operation.objects.filter(kind=Operation.Kind.MIGRATE).count() == 1
    for op in Operation.objects.filter(state=Operation.State.FAILED):
        raise AssertionError(f"an operation failed: {op.kind} {op.error}")


# --- templates are never drift -----------------------------------------------------------------------
def test_templates_are_never_drift_even_while_their_node_is_down(vm_image, cluster, pve, tenant_a):
    pve.fail_node("pve")
    reconcile_cluster(cluster)
    pve.recover_node("pve")
    reconcile_cluster(cluster)
    assert not Drift.objects.filter(vmid__in=[9000, 9001]).exists()
    drift = Drift.objects.create(cluster=cluster, kind=Drift.Kind.UNKNOWN, vmid=9000, node_name="pve",
                                 details={"type": "qemu", "status": "stopped"})
    with pytest.raises(ValidationError) as info:
        actions.server_adopt(drift=drift, tenant=tenant_a, hostname="tmpl", kind="qemu", cores=1, memory_mb=512, disk_gb=3)
    assert "template" in " ".join(info.value.messages)
    reconcile_cluster(cluster)
    drift.refresh_from_db()
    assert drift.resolved_at is not None


def test_an_unknown_guest_hidden_by_an_outage_keeps_its_drift_open(cluster, pve):
    prox(pve).nodes("pve2").lxc.post(vmid=150, ostemplate="local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst", hostname="rogue")
    pve.wait_idle()
    reconcile_cluster(cluster)
    drift = Drift.objects.get(vmid=150)
    pve.fail_node("pve2")
    reconcile_cluster(cluster)
    drift.refresh_from_db()
    assert drift.resolved_at is None


# --- backups follow a guest that HA moved --------------------------------------------------------------
def test_a_backup_right_after_an_ha_move_is_made_on_the_guests_new_node(tenant_a, ct_image, cluster, pve, worker):
    only_on(cluster, "pve2")
    server = built(tenant_a, ct_image)
    all_nodes(cluster)
    ok(actions.ha_set(server=server, enabled=True))
    pve.fail_node("pve2")
    wait_for(lambda: guest(pve, server.vmid)["node"] != "pve2" and guest(pve, server.vmid)["status"] == "running",
             message="HA recovery")
    new_node = guest(pve, server.vmid)["node"]
    Server.objects.filter(pk=server.pk).update(status=Server.Status.RUNNING)  # reconcile has not run yet
    ok(actions.backup_create(server=server))
    backup = Backup.objects.get()
    server.refresh_from_db()
    assert server.node.name == new_node and backup.node == new_node
    assert backup.volid in {v["volid"] for v in pve.state()["storage"]["backup"]["content"]}


def test_a_server_restored_into_a_new_one_keeps_the_backup_schedule(tenant_a, ct_image, pve, worker):
    server = built(tenant_a, ct_image)
    actions.backup_policy_set(server=server, frequency="weekly", weekday=3, keep_weekly=6, managed_by_jiku=True)
    ok(actions.backup_create(server=server))
    op = ok(actions.backup_restore(backup=Backup.objects.get(), target="new", hostname="copy"))
    policy = BackupPolicy.objects.get(server=op.server)
    assert (policy.frequency, policy.weekday, policy.keep_weekly, policy.managed_by_jiku) == ("weekly", 3, 6, True)
