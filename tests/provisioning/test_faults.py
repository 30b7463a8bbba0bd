"""Faults survived: nothing lost, nothing done twice, nothing left reserved."""

import os
import signal
import subprocess
import sys
import time

import pytest
from django.conf import settings as django_settings
from proxmoxer import ProxmoxAPI

from portal.celery import app as celery_app
from provisioning import actions, engine
from provisioning.models import Node, Operation, Server
from provisioning.reconcile import reconcile_cluster

from .conftest import notifications_settled, running_worker, wait_done, wait_for

CLONE = "POST /nodes/{node}/qemu/{vmid}/clone"


def create(tenant, image, hostname="web-01"):
    server = actions.server_create(
        tenant=tenant, image=image, hostname=hostname, cores=1, memory_mb=1024, disk_gb=10, password="long-enough"
    )
    return server, server.operations.get()


def guest(pve, vmid):
    return next((g for g in pve.state()["guests"] if g["vmid"] == vmid), None)


def test_it_waits_while_proxmox_is_unreachable_and_then_completes(tenant_a, vm_image, pve, worker):
    pve.go_down()
    try:
        server, op = create(tenant_a, vm_image)
        wait_for(lambda: Operation.objects.get(pk=op.pk).last_error, message="a transient error")
        op.refresh_from_db()
        assert op.state in (Operation.State.WAITING, Operation.State.RUNNING)
        assert "unreachable" in op.last_error
    finally:
        pve.come_up()
    wait_done(op, timeout=60)
    assert op.state == Operation.State.SUCCEEDED, op.error
    assert guest(pve, server.vmid)["status"] == "running"


def test_a_failing_clone_releases_vmid_ip_and_quota(tenant_a, vm_image, pve, worker):
    pve.add_fault(method="POST", path=r"/qemu/9000/clone$", task_error="storage 'local-lvm' is full")
    server, op = create(tenant_a, vm_image)
    wait_done(op)
    assert op.state == Operation.State.FAILED
    assert op.error == "storage 'local-lvm' is full"
    server.refresh_from_db()
    assert server.status == Server.Status.FAILED
    assert (server.vmid, server.ipv4, server.node) == (None, None, None)
    assert actions.quota_usage(tenant_a) == {"servers": 0, "cores": 0, "memory_mb": 0, "disk_gb": 0}
    assert [g["vmid"] for g in pve.state()["guests"] if not g.get("template")] == []
    # The same name, VMID and address can be ordered again straight away.
    again, op = create(tenant_a, vm_image)
    wait_done(op)
    assert op.state == Operation.State.SUCCEEDED
    assert (again.vmid, again.ipv4) == (100, "192.0.2.10")


def test_a_failure_after_the_clone_removes_the_half_built_guest(tenant_a, vm_image, pve, worker):
    pve.add_fault(method="PUT", path=r"/qemu/\d+/resize$", status=500, reason="disk 'scsi0' does not exist")
    server, op = create(tenant_a, vm_image)
    wait_done(op)
    assert op.state == Operation.State.FAILED and "does not exist" in op.error
    pve.wait_idle(timeout=10)
    assert [g["vmid"] for g in pve.state()["guests"] if not g.get("template")] == []


def _subprocess_worker(lease_seconds):
    db = django_settings.DATABASES["default"]
    env = dict(
        os.environ,
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        PROVISIONING_LEASE_SECONDS=str(lease_seconds),
    )
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "-P", "solo", "-c", "1", "--without-heartbeat",
         "--without-mingle", "--without-gossip", "-l", "WARNING"],
        env=env,
        cwd=django_settings.BASE_DIR,
    )


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="needs a shared PostgreSQL")
def test_a_worker_killed_during_the_clone_is_replaced_without_a_second_clone(tenant_a, vm_image, pve, settings):
    pve.set_time_scale(1.0)  # the template clone now takes seconds: time to kill the worker mid-way
    proc = _subprocess_worker(lease_seconds=3)
    try:
        server, op = create(tenant_a, vm_image)
        wait_for(lambda: Operation.objects.get(pk=op.pk).upid, timeout=60, message="the clone to start")
        op.refresh_from_db()
        assert op.step_name == "clone"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    op.refresh_from_db()
    assert op.state == Operation.State.RUNNING, "the dead worker still holds the row until its lease ends"
    time.sleep(3.5)
    pve.set_time_scale(0.0)
    with running_worker(concurrency=2):
        assert op.pk in engine.sweep()
        wait_done(op, timeout=60)
    assert op.state == Operation.State.SUCCEEDED, op.error
    assert pve.request_counts().get(CLONE) == 1
    assert guest(pve, server.vmid)["status"] == "running"


def test_a_lost_broker_message_is_requeued_by_the_sweep(tenant_a, vm_image, pve, settings):
    server, op = create(tenant_a, vm_image)
    celery_app.control.purge()  # the broker forgets the wake-up call
    with running_worker(concurrency=2):
        time.sleep(1)
        op.refresh_from_db()
        assert op.state == Operation.State.QUEUED
        settings.PROVISIONING_STALL_SECONDS = 0
        assert engine.sweep() == [op.pk]
        wait_done(op)
        notifications_settled()
    assert op.state == Operation.State.SUCCEEDED
    assert pve.request_counts().get(CLONE) == 1


def test_a_node_failure_marks_its_servers_and_reconcile_follows_ha(tenant_a, vm_image, cluster, pve, worker):
    Node.objects.filter(cluster=cluster).exclude(name="pve3").update(maintenance=True)
    plain, op1 = create(tenant_a, vm_image, hostname="plain")
    ha, op2 = create(tenant_a, vm_image, hostname="ha")
    wait_done(op1), wait_done(op2)
    Node.objects.filter(cluster=cluster).update(maintenance=False)
    prox = ProxmoxAPI("127.0.0.1", port=pve.port, user="root@pam", token_name="portal", token_value=pve.token_secret, verify_ssl=pve.ca_cert_path)
    prox.cluster.ha.resources.post(sid=f"vm:{ha.vmid}", state="started")
    Server.objects.filter(pk=ha.pk).update(ha_enabled=True)

    pve.fail_node("pve3")
    reconcile_cluster(cluster)
    plain.refresh_from_db()
    assert plain.status == Server.Status.UNAVAILABLE
    assert "pve3 is offline" in plain.reason
    assert Node.objects.get(cluster=cluster, name="pve3").status == Node.Status.OFFLINE

    wait_for(lambda: (g := guest(pve, ha.vmid)) and g["node"] != "pve3" and g["status"] == "running", message="HA recovery")
    reconcile_cluster(cluster)
    ha.refresh_from_db()
    assert ha.status == Server.Status.RUNNING and ha.node.name != "pve3"

    pve.recover_node("pve3")
    reconcile_cluster(cluster)
    plain.refresh_from_db()
    assert plain.status in (Server.Status.RUNNING, Server.Status.STOPPED)
