"""The fast layer: each recipe's steps driven in the test's own thread against pvesim, no worker.

The tests run inside one rolled-back transaction, so nothing is enqueued on commit; `drive`
plays the worker's part (claim, run the steps, pick a parked operation up again). The same
recipes run through real Celery workers in test_lifecycle, test_safety and tests/faults.
"""

import pytest

from provisioning import actions, engine
from provisioning.models import Backup, Image, Operation, Server, Snapshot

from .conftest import DEBIAN_CT, make_cluster


@pytest.fixture
def inline_cluster(db, pve):
    return make_cluster(pve)


@pytest.fixture
def ct(inline_cluster):
    return Image.objects.create(
        cluster=inline_cluster, name="Debian 12 (container)", kind=Image.Kind.LXC, volid=DEBIAN_CT, min_disk_gb=2
    )


def drive(op, rounds=50):
    """Run the operation to its end the way a worker would, parked waits included."""
    for _ in range(rounds):
        engine.run(op.pk)
        op.refresh_from_db()
        if op.state in (Operation.State.SUCCEEDED, Operation.State.FAILED):
            return op
        Operation.objects.filter(pk=op.pk).update(not_before=None)
    raise AssertionError(f"{op.kind} still {op.state} after {rounds} rounds")


def guest(pve, vmid):
    return next((g for g in pve.state()["guests"] if g["vmid"] == vmid), None)


def built(tenant, image, hostname="files"):
    server = actions.server_create(
        tenant=tenant, image=image, hostname=hostname, cores=1, memory_mb=1024, disk_gb=8, password="s3cret-pass-9"
    )
    op = drive(server.operations.get())
    assert op.state == Operation.State.SUCCEEDED, op.error
    server.refresh_from_db()
    return server


def test_a_container_is_built_and_started_without_a_worker(tenant_a, ct, pve):
    server = built(tenant_a, ct)
    assert server.status == Server.Status.RUNNING
    assert guest(pve, server.vmid)["status"] == "running"
    assert "ip=192.0.2.10/24" in guest(pve, server.vmid)["config"]["net0"]


def test_power_steps_leave_proxmox_and_the_row_in_the_same_state(tenant_a, ct, pve):
    server = built(tenant_a, ct)
    for action, status in [("stop", "stopped"), ("start", "running"), ("shutdown", "stopped")]:
        op = drive(actions.server_power(server=server, action=action))
        assert op.state == Operation.State.SUCCEEDED, (action, op.error)
        server.refresh_from_db()
        assert (server.status, guest(pve, server.vmid)["status"]) == (status, status)


def test_a_snapshot_is_taken_and_rolled_back(tenant_a, ct, pve):
    server = built(tenant_a, ct)
    assert drive(actions.snapshot_create(server=server, name="before")).state == Operation.State.SUCCEEDED
    assert Snapshot.objects.filter(server=server, name="before").exists()
    assert [s["name"] for s in guest(pve, server.vmid)["snapshots"]] == ["before"]
    op = drive(actions.snapshot_rollback(server=server, name="before", start=True))
    assert op.state == Operation.State.SUCCEEDED, op.error
    server.refresh_from_db()
    assert server.status == Server.Status.RUNNING


def test_a_backup_lands_in_the_backup_storage_and_restores_over_the_server(tenant_a, ct, pve):
    server = built(tenant_a, ct)
    assert drive(actions.backup_create(server=server)).state == Operation.State.SUCCEEDED
    backup = Backup.objects.get(server=server)
    in_storage = {v["volid"] for v in pve.state()["storage"]["backup"]["content"]}
    assert backup.volid in in_storage
    op = drive(actions.backup_restore(backup=backup, target="same", confirm=True))
    assert op.state == Operation.State.SUCCEEDED, op.error
    assert guest(pve, server.vmid)["status"] == "running"


def test_a_failed_create_gives_back_its_vmid_and_address(tenant_a, ct, pve):
    pve.add_fault(method="POST", path=r"/lxc$", task_error="storage 'local-lvm' is full")
    server = actions.server_create(
        tenant=tenant_a, image=ct, hostname="files", cores=1, memory_mb=1024, disk_gb=8, password="s3cret-pass-9"
    )
    op = drive(server.operations.get())
    assert op.state == Operation.State.FAILED
    server.refresh_from_db()
    assert server.status == Server.Status.FAILED
    assert (server.vmid, server.ipv4, server.node) == (None, None, None)


def test_delete_removes_the_guest_and_frees_the_quota(tenant_a, ct, pve):
    server = built(tenant_a, ct)
    vmid = server.vmid
    op = drive(actions.server_delete(server=server, confirm_hostname="files"))
    assert op.state == Operation.State.SUCCEEDED, op.error
    assert guest(pve, vmid) is None
    assert actions.quota_usage(tenant_a)["servers"] == 0
