"""Snapshots, backups, restores, schedules, HA, moves and staging against pvesim with a real worker."""

import datetime
import time

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from provisioning import actions
from provisioning.models import Backup, Node, Operation, Server, Snapshot
from provisioning.reconcile import reconcile_cluster
from tests.billing.conftest import rows_cluster  # noqa: F401 - fixture

from .conftest import wait_done, wait_for


def guest(pve, vmid):
    return next((g for g in pve.state()["guests"] if g["vmid"] == vmid), None)


def built(tenant, image, hostname="web-01"):
    server = actions.server_create(tenant=tenant, image=image, hostname=hostname, cores=1, memory_mb=1024, disk_gb=10, password="long-enough")
    op = wait_done(server.operations.get())
    assert op.state == Operation.State.SUCCEEDED, op.error
    server.refresh_from_db()
    return server


def ok(op, timeout=30):
    wait_done(op, timeout=timeout)
    assert op.state == Operation.State.SUCCEEDED, op.error
    return op


@pytest.mark.parametrize("image", ["vm_image", "ct_image"])
def test_snapshot_rollback_and_delete_roundtrip(tenant_a, pve, worker, request, image):
    server = built(tenant_a, request.getfixturevalue(image))
    ok(actions.snapshot_create(server=server, name="before_change", description="safe point"))
    assert [s["name"] for s in guest(pve, server.vmid)["snapshots"]] == ["before_change"]
    assert Snapshot.objects.get(server=server).ready
    ok(actions.snapshot_rollback(server=server, name="before_change", start=True))
    server.refresh_from_db()
    assert server.status == Server.Status.RUNNING
    ok(actions.snapshot_delete(server=server, name="before_change"))
    assert guest(pve, server.vmid)["snapshots"] == []
    assert not Snapshot.objects.filter(server=server).exists()


@pytest.mark.parametrize("name, message", [("current", "reserved"), ("Pending", "reserved"), ("1st", "letter first"), ("a", "2 to 40"), ("x" * 41, "2 to 40"), ("bad name", "letter first")])
def test_bad_snapshot_names_are_refused_before_anything_is_sent(tenant_a, ct_image, pve, worker, name, message):
    server = built(tenant_a, ct_image)
    before = sum(pve.request_counts().values())
    with pytest.raises(ValidationError) as info:
        actions.snapshot_create(server=server, name=name)
    assert message in " ".join(info.value.message_dict["name"])
    assert sum(pve.request_counts().values()) == before
    assert not Snapshot.objects.exists()


def test_duplicate_snapshot_names_and_the_quota_are_refused(tenant_a, ct_image, pve, worker):
    tenant_a.max_snapshots_per_server = 1
    tenant_a.save()
    server = built(tenant_a, ct_image)
    ok(actions.snapshot_create(server=server, name="one"))
    with pytest.raises(ValidationError, match="exists already"):
        actions.snapshot_create(server=server, name="ONE")
    with pytest.raises(ValidationError, match="may keep 1 snapshots"):
        actions.snapshot_create(server=server, name="two")
    assert Snapshot.objects.count() == 1


def test_storage_without_snapshots_says_so_before_sending(tenant_a, ct_image, cluster, pve, worker):
    server = built(tenant_a, ct_image)
    cluster.snapshot_capable = False
    cluster.save()
    with pytest.raises(ValidationError, match="cannot take snapshots"):
        actions.snapshot_create(server=server, name="snap")


def test_snapshot_before_update_can_be_rolled_back(tenant_a, vm_image, pve, worker):
    server = built(tenant_a, vm_image)
    op = ok(actions.snapshot_before_update(server=server))
    name = op.params["name"]
    assert name.startswith("before_update_")
    ok(actions.snapshot_rollback(server=server, name=name))


def test_only_the_newest_two_before_update_snapshots_are_kept(tenant_a, vm_image, pve, worker):
    tenant_a.max_snapshots_per_server = 3
    tenant_a.save()
    server = built(tenant_a, vm_image)
    ok(actions.snapshot_create(server=server, name="mine"))
    names = []
    for _ in range(4):
        names.append(actions.snapshot_before_update(server=server).params["name"])
        time.sleep(1.1)  # the names carry the second they were taken
    wait_for(lambda: not Operation.objects.filter(server=server, state__in=Operation.ACTIVE_STATES).exists(), message="all snapshot work")
    assert not Operation.objects.filter(server=server, state=Operation.State.FAILED).exists()
    in_proxmox = {s["name"] for s in guest(pve, server.vmid)["snapshots"]}
    assert in_proxmox == {"mine", names[-2], names[-1]}, "a full tenant still gets its safety snapshot; yours stay"
    assert set(server.snapshots.values_list("name", flat=True)) == in_proxmox


def test_backup_then_restore_into_a_new_server_both_run(tenant_a, vm_image, pve, worker):
    server = built(tenant_a, vm_image)
    ok(actions.backup_create(server=server, notes="before migration"))
    backup = Backup.objects.get()
    assert backup.volid.startswith(f"backup:backup/vzdump-qemu-{server.vmid}-") and backup.volid.endswith(".vma.zst")
    assert backup.notes == "before migration" and backup.size_bytes > 0
    op = ok(actions.backup_restore(backup=backup, target="new", hostname="web-copy"))
    copy = op.server
    copy.refresh_from_db()
    assert copy.status == Server.Status.RUNNING and copy.vmid != server.vmid and copy.ipv4 != server.ipv4
    assert guest(pve, copy.vmid)["status"] == guest(pve, server.vmid)["status"] == "running"
    assert guest(pve, copy.vmid)["config"]["ipconfig0"].startswith(f"ip={copy.ipv4}/")
    assert actions.quota_usage(tenant_a)["servers"] == 2


def test_restore_over_the_same_server_needs_confirmation_and_stops_it_first(tenant_a, ct_image, pve, worker):
    server = built(tenant_a, ct_image)
    ok(actions.backup_create(server=server))
    backup = Backup.objects.get()
    with pytest.raises(ValidationError) as info:
        actions.backup_restore(backup=backup, target="same", confirm=False)
    assert "confirm" in info.value.message_dict
    assert Operation.objects.filter(kind="restore").count() == 0
    ok(actions.backup_restore(backup=backup, target="same", confirm=True))
    server.refresh_from_db()
    assert server.status == Server.Status.RUNNING
    assert pve.request_counts()["POST /nodes/{node}/lxc/{vmid}/status/stop"] == 1


def test_another_tenants_backup_is_not_found_by_their_lookup(tenant_a, tenant_b, ct_image, pve, worker):
    from tenants.access import get_for_tenant

    server = built(tenant_a, ct_image)
    ok(actions.backup_create(server=server))
    backup = Backup.objects.get()
    from django.http import Http404

    with pytest.raises(Http404):
        get_for_tenant(Backup, tenant_b, public_id=backup.public_id)


def test_a_protected_backup_cannot_be_deleted(tenant_a, ct_image, pve, worker):
    server = built(tenant_a, ct_image)
    ok(actions.backup_create(server=server))
    backup = Backup.objects.get()
    ok(actions.backup_protect(backup=backup, protected=True))
    backup.refresh_from_db()
    with pytest.raises(ValidationError, match="protected"):
        actions.backup_delete(backup=backup)
    ok(actions.backup_protect(backup=backup, protected=False))
    backup.refresh_from_db()
    ok(actions.backup_delete(backup=backup))
    backup.refresh_from_db()
    assert backup.deleted_at is not None
    assert pve.state()["storage"]["backup"]["content"] == [] or all(
        v["volid"] != backup.volid for v in pve.state()["storage"]["backup"]["content"]
    )


def test_a_backup_waits_for_a_running_snapshot_and_then_succeeds(tenant_a, vm_image, pve, worker):
    server = built(tenant_a, vm_image)
    pve.set_time_scale(1.0)  # the snapshot holds the lock for a while
    snap = actions.snapshot_create(server=server, name="slow", include_ram=True)
    backup = actions.backup_create(server=server)
    ok(snap, timeout=60)
    ok(backup, timeout=60)
    assert backup.started_at >= snap.finished_at


def test_a_failing_vzdump_is_recorded_and_retried_once(tenant_a, ct_image, pve, worker):
    server = built(tenant_a, ct_image)
    policy = actions.backup_policy_set(server=server, frequency="daily", time=datetime.time(2, 0))
    pve.add_fault(method="POST", path=r"/vzdump$", task_error="job errors", count=1)
    from provisioning.tasks import run_backup_policy

    run_backup_policy(server.pk)
    op = wait_done(Operation.objects.get(kind="backup"))
    assert op.state == Operation.State.FAILED and op.error == "job errors"
    policy.refresh_from_db()
    assert policy.last_status == "failed" and policy.last_error == "job errors"
    run_backup_policy(server.pk, True)  # the retry the failure scheduled, run now instead of in 5 minutes
    ok(Operation.objects.filter(kind="backup").latest("id"))
    policy.refresh_from_db()
    assert policy.last_status == "ok"


def test_the_schedule_is_in_celery_beat_in_the_tenants_time_zone(tenant_a, ct_image, pve, worker):
    server = built(tenant_a, ct_image)
    policy = actions.backup_policy_set(server=server, frequency="weekly", weekday=2, time=datetime.time(3, 30))
    task = policy.periodic_task
    assert task.task == "provisioning.tasks.run_backup_policy" and task.enabled
    assert (task.crontab.hour, task.crontab.minute, task.crontab.day_of_week) == ("3", "30", "3")
    assert str(task.crontab.timezone) == "Europe/Berlin"
    from celery import current_app

    # beat asks the schedule whether it is due: at 03:30 Berlin time on a Wednesday it is.
    now = timezone.make_aware(datetime.datetime(2026, 11, 25, 3, 30, 5), timezone=datetime.timezone(datetime.timedelta(hours=1)))
    schedule = task.crontab.schedule
    schedule.nowfun = lambda: now
    due, _next = schedule.is_due(now - datetime.timedelta(days=1))
    assert due
    assert current_app.tasks["provisioning.tasks.run_backup_policy"]


def test_retention_prunes_the_right_backups(tenant_a, ct_image, pve, worker):
    server = built(tenant_a, ct_image)
    policy = actions.backup_policy_set(server=server, keep_last=2, keep_daily=3, keep_weekly=0, keep_monthly=0)
    from provisioning.tasks import run_backup_policy

    day = datetime.timedelta(days=1)
    for days_ago in (3, 2, 1):
        run_backup_policy(server.pk)
        ok(Operation.objects.filter(kind="backup").latest("id"))
        # As if the schedule had run on earlier days.
        Backup.objects.filter(pk=Backup.objects.latest("id").pk).update(created_at=timezone.now() - days_ago * day)
        time.sleep(1.1)  # archive names carry the second; real backups never finish this fast
    assert Backup.objects.kept().count() == 3
    run_backup_policy(server.pk)
    ok(Operation.objects.filter(kind="backup").latest("id"))
    remaining = list(Backup.objects.kept().order_by("-created_at"))
    # keep_last=2 keeps today's and the one from 1 day ago; keep_daily=3 adds 2 days ago.
    assert len(remaining) == 3
    deleted = Backup.objects.exclude(deleted_at=None).get()
    assert deleted.created_at.date() == (timezone.now() - 3 * day).date()
    volids = {v["volid"] for v in pve.state()["storage"]["backup"]["content"]}
    assert deleted.volid not in volids and all(b.volid in volids for b in remaining)
    policy.refresh_from_db()
    assert policy.last_status == "ok"


def test_backups_outlive_their_server_and_restore_into_a_new_one(tenant_a, ct_image, pve, worker, settings):
    server = built(tenant_a, ct_image)
    ok(actions.backup_create(server=server))
    ok(actions.server_delete(server=server, confirm_hostname="web-01"))
    backup = Backup.objects.get()
    assert backup.server_id == server.pk and backup.expires_at > timezone.now() + datetime.timedelta(days=13)
    op = ok(actions.backup_restore(backup=backup, target="new", hostname="web-01"))
    assert op.server.hostname == "web-01"
    # After the retention period the archive is removed.
    Backup.objects.update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    for op in actions.backups_expire():
        ok(op)
    backup.refresh_from_db()
    assert backup.deleted_at is not None


def test_ha_follows_a_failed_node_and_non_ha_servers_show_unavailable(tenant_a, vm_image, cluster, pve, worker):
    Node.objects.filter(cluster=cluster).exclude(name="pve2").update(maintenance=True)
    ha = built(tenant_a, vm_image, "ha")
    plain = built(tenant_a, vm_image, "plain")
    Node.objects.update(maintenance=False)
    ok(actions.ha_set(server=ha, enabled=True))
    ha.refresh_from_db()
    assert ha.ha_enabled and guest(pve, ha.vmid)["ha"]["managed"] == 1
    pve.fail_node("pve2")
    reconcile_cluster(cluster)
    plain.refresh_from_db()
    assert plain.status == Server.Status.UNAVAILABLE and "pve2 is offline" in plain.reason
    wait_for(lambda: guest(pve, ha.vmid)["node"] != "pve2" and guest(pve, ha.vmid)["status"] == "running", message="HA recovery")
    reconcile_cluster(cluster)
    ha.refresh_from_db()
    assert ha.status == Server.Status.RUNNING and ha.node.name != "pve2"
    pve.recover_node("pve2")
    reconcile_cluster(cluster)
    plain.refresh_from_db()
    assert plain.status != Server.Status.UNAVAILABLE


def test_staff_move_a_server_and_draining_empties_a_node(tenant_a, ct_image, cluster, pve, worker):
    Node.objects.filter(cluster=cluster).exclude(name="pve").update(maintenance=True)
    one, two = built(tenant_a, ct_image, "one"), built(tenant_a, ct_image, "two")
    Node.objects.update(maintenance=False)
    pve2 = cluster.nodes.get(name="pve2")
    ok(actions.server_migrate(server=one, target=pve2))
    one.refresh_from_db()
    assert one.node == pve2 and guest(pve, one.vmid)["node"] == "pve2"
    op = actions.node_drain(node=pve2)
    ok(op)
    wait_for(lambda: not Server.objects.filter(node=pve2).exists(), message="pve2 drained")
    one.refresh_from_db()
    assert one.node.name != "pve2" and guest(pve, one.vmid)["node"] == one.node.name
    assert pve2.servers.count() == 0
    two.refresh_from_db()
    assert two.node.name == "pve"


def test_staging_copy_promote_and_discard(tenant_a, ct_image, pve, worker):
    prod = built(tenant_a, ct_image, "shop")
    op = ok(actions.staging_create(server=prod))
    staging = op.server
    staging.refresh_from_db()
    assert staging.hostname == "shop-staging" and staging.staging_of == prod and staging.ipv4 != prod.ipv4
    assert guest(pve, staging.vmid)["config"]["hostname"] == "shop-staging"
    prod_ip, staging_ip = prod.ipv4, staging.ipv4
    ok(actions.staging_promote(staging=staging))
    prod.refresh_from_db()
    staging.refresh_from_db()
    assert (staging.hostname, staging.ipv4, staging.staging_of) == ("shop", prod_ip, None)
    assert (prod.hostname, prod.ipv4, prod.staging_of) == ("shop-staging", staging_ip, staging)
    assert [s["name"] for s in guest(pve, prod.vmid)["snapshots"]][0].startswith("before_promote_")
    assert f"ip={prod_ip}/" in guest(pve, staging.vmid)["config"]["net0"]
    ok(actions.server_delete(server=prod, confirm_hostname="shop-staging"))
    assert guest(pve, prod.vmid) is None


def test_a_schedule_keeps_its_hour_when_the_tenant_moves_to_another_time_zone(tenant_a, alice, rows_cluster):  # noqa: F811
    from provisioning.tasks import sweep_operations
    from tenants.actions import tenant_update

    server = Server.objects.create(tenant=tenant_a, cluster=rows_cluster, node=rows_cluster.nodes.get(), kind="lxc",
                                   hostname="files", cores=1, memory_mb=1024, disk_gb=8, status="running", vmid=4100)
    policy = actions.backup_policy_set(server=server, frequency="daily", time=datetime.time(2, 0))
    tenant_update(tenant=tenant_a, by=alice, request=None, name=tenant_a.name, billing_address="", vat_id="",
                  require_mfa=False, time_zone="Europe/London")
    sweep_operations()
    task = PeriodicTask.objects.get(pk=policy.periodic_task_id)
    assert (task.crontab.hour, task.crontab.minute, str(task.crontab.timezone)) == ("2", "0", "Europe/London")
    assert actions.backup_schedules_follow_zones() == 0  # moved once
