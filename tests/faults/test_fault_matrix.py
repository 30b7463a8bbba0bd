"""Every operation kind against every fault: it ends succeeded or cleanly failed, the database agrees
with Proxmox afterwards, nothing stays reserved and nothing is done twice."""

import os
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings as django_settings

from portal.celery import app as celery_app
from provisioning import actions, engine
from provisioning.models import Backup, Operation, Server, Snapshot
from provisioning.reconcile import reconcile_cluster
from tests.provisioning.conftest import running_worker, wait_done, wait_for

from .conftest import OUTCOMES

pytestmark = pytest.mark.usefixtures("cluster")

# The request that does each operation's real work, and the Proxmox task it starts.
MAIN_CALL = {
    "create": ("POST", r"/nodes/[^/]+/lxc$", "vzcreate"),
    "start": ("POST", r"/lxc/\d+/status/start$", "vzstart"),
    "snapshot": ("POST", r"/lxc/\d+/snapshot$", "vzsnapshot"),
    "rollback": ("POST", r"/rollback$", "vzrollback"),
    "backup": ("POST", r"/vzdump$", "vzdump"),
    "restore": ("POST", r"/nodes/[^/]+/lxc$", "vzrestore"),
    "delete": ("DELETE", r"/lxc/\d+$", "vzdestroy"),
}
FAULTS = ["http_5xx", "refused", "task_error", "worker_killed", "broker_lost", "node_failure"]


def build(tenant, image, hostname="web-01"):
    server = actions.server_create(tenant=tenant, image=image, hostname=hostname, cores=1, memory_mb=512, disk_gb=8, password="long-enough")
    op = wait_done(server.operations.get())
    assert op.state == "succeeded", op.error
    server.refresh_from_db()
    return server


def prepare(kind, tenant, image):
    """Everything the operation needs beforehand, built without faults; returns a starter."""
    if kind == "create":
        return lambda: actions.server_create(tenant=tenant, image=image, hostname="new-01", cores=1, memory_mb=512, disk_gb=8, password="long-enough").operations.get()
    server = build(tenant, image)
    if kind == "start":
        wait_done(actions.server_power(server=server, action="stop"))
        return lambda: actions.server_power(server=server, action="start")
    if kind == "snapshot":
        return lambda: actions.snapshot_create(server=server, name="snap1")
    if kind == "rollback":
        wait_done(actions.snapshot_create(server=server, name="snap1"))
        return lambda: actions.snapshot_rollback(server=server, name="snap1", start=True)
    if kind == "backup":
        return lambda: actions.backup_create(server=server)
    if kind == "restore":
        wait_done(actions.backup_create(server=server))
        backup = Backup.objects.get()
        return lambda: actions.backup_restore(backup=backup, target="new", hostname="restored")
    if kind == "delete":
        return lambda: actions.server_delete(server=Server.objects.get(pk=server.pk), confirm_hostname="web-01")
    raise AssertionError(kind)


def tasks_of(pve, task_type):
    return [t for t in pve.state()["tasks"] if t["type"] == task_type]


def assert_consistent(pve):
    guests = {g["vmid"]: g for g in pve.state()["guests"] if not g.get("template")}
    live = list(Server.objects.live().select_related("node"))
    for server in live:
        guest = guests.get(server.vmid)
        assert guest is not None, f"{server} is live in the portal but missing in Proxmox"
        assert guest["node"] == server.node.name
        if server.status in ("running", "stopped"):
            assert guest["status"] == server.status, f"{server}: portal {server.status}, Proxmox {guest['status']}"
        proxmox_snaps = {s["name"] for s in guest["snapshots"]}
        assert {s.name for s in Snapshot.objects.filter(server=server)} == proxmox_snaps
    assert set(guests) == {s.vmid for s in live}, "a guest exists that the portal does not know"
    for server in Server.objects.filter(status__in=["failed", "deleted"]):
        assert (server.vmid, server.ipv4, server.node_id) == (None, None, None), f"{server} still holds reservations"
    in_proxmox = {v["volid"] for store in pve.state()["storage"].values() for v in store.get("content", []) if v.get("content") == "backup"}
    assert {b.volid for b in Backup.objects.kept()} == in_proxmox


def _subprocess_worker():
    db = django_settings.DATABASES["default"]
    env = dict(
        os.environ,
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        PROVISIONING_LEASE_SECONDS="2",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "-P", "solo", "-c", "1", "--without-heartbeat",
         "--without-mingle", "--without-gossip", "-l", "ERROR"],
        env=env, cwd=django_settings.BASE_DIR,
    )


def run_with_fault(fault, kind, start, pve, settings):
    method, path, _task = MAIN_CALL[kind]
    if fault == "http_5xx":
        pve.add_fault(method=method, path=path, count=1, status=503, reason="Service Unavailable")
    if fault == "task_error":
        pve.add_fault(method=method, path=path, count=1, task_error="simulated failure")
    if fault == "worker_killed":
        return run_with_killed_worker(kind, start, pve)
    if fault == "broker_lost":
        op = start()
        celery_app.control.purge()
        with running_worker(concurrency=2):
            settings.PROVISIONING_STALL_SECONDS = 0
            time.sleep(0.5)
            assert op.pk in engine.sweep()
            return wait_done(op, timeout=60)
    with running_worker(concurrency=2):
        if fault == "refused":
            pve.go_down()
            op = start()
            wait_for(lambda: Operation.objects.get(pk=op.pk).last_error, message="a transient error")
            pve.come_up()
        elif fault == "node_failure":
            node = (Server.objects.live().first() or Server(node=None)).node
            name = node.name if node else "pve3"
            pve.fail_node(name)
            op = start()
            wait_for(lambda: Operation.objects.get(pk=op.pk).last_error or Operation.objects.get(pk=op.pk).state in ("succeeded", "failed"), message="the node failure to show")
            pve.recover_node(name)
        else:
            op = start()
        return wait_done(op, timeout=90)


def run_with_killed_worker(kind, start, pve):
    pve.set_time_scale(1.0)  # Proxmox's task takes a moment: the worker dies while it runs
    proc = _subprocess_worker()
    try:
        op = start()
        wait_for(lambda: Operation.objects.get(pk=op.pk).upid and Operation.objects.get(pk=op.pk).step_name == _main_step(kind), timeout=60, message="the main task to start")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(2.5)  # the dead worker's lease runs out
    pve.set_time_scale(0.0)
    with running_worker(concurrency=2):
        engine.sweep()
        return wait_done(op, timeout=90)


def _main_step(kind):
    return {"create": "create_ct", "start": "start", "snapshot": "snapshot", "rollback": "rollback", "backup": "vzdump",
            "restore": "restore", "delete": "destroy"}[kind]


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("kind", list(MAIN_CALL))
def test_operation_survives_fault(kind, fault, tenant_a, ct_image, pve, settings):
    with running_worker(concurrency=2):
        start = prepare(kind, tenant_a, ct_image)
        pve.wait_idle()
    before = len(tasks_of(pve, MAIN_CALL[kind][2]))
    op = run_with_fault(fault, kind, start, pve, settings)
    pve.wait_idle(timeout=30)
    if fault == "node_failure":
        # The failed node took its guests down with it; the portal learns that from reconcile.
        reconcile_cluster(op.server.cluster if op.server else Server.objects.first().cluster)
    OUTCOMES.append((kind, fault, op.state))
    expected = "failed" if fault == "task_error" else "succeeded"
    assert op.state == expected, op.error
    if op.state == "failed":
        assert op.error == "simulated failure"
    done = [t for t in tasks_of(pve, MAIN_CALL[kind][2])[before:] if t.get("exitstatus") == "OK"]
    assert len(done) == (1 if expected == "succeeded" else 0), "the work was done twice (or not at all)"
    assert_consistent(pve)
