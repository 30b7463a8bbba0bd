"""Servers built, run, changed and deleted on (simulated) Proxmox through durable operations."""

from urllib.parse import unquote

from provisioning import actions, engine
from provisioning.models import Operation, Server
from tenants.models import SSHKey

from .conftest import wait_done

ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGQ7Y0Jf0YpD0cF0t8P2wUq1b0r9y0dDqk7pZ1mXh2nB alice@laptop"


def guest(pve, vmid):
    return next((g for g in pve.state()["guests"] if g["vmid"] == vmid), None)


def create(tenant, image, hostname="web-01", **sizes):
    sizes = {"cores": 2, "memory_mb": 2048, "disk_gb": 10, **sizes}
    server = actions.server_create(tenant=tenant, image=image, hostname=hostname, password="s3cret-pass", **sizes)
    return server, server.operations.get()


def test_it_builds_a_vm_from_the_cloud_init_template(tenant_a, vm_image, pve, worker):
    key = SSHKey.objects.create(tenant=tenant_a, name="laptop", key_type="ssh-ed25519", public_key=ED25519, fingerprint="x")
    server = actions.server_create(
        tenant=tenant_a, image=vm_image, hostname="web-01", cores=2, memory_mb=2048, disk_gb=20, ssh_keys=[key]
    )
    op = wait_done(server.operations.get())
    assert op.state == Operation.State.SUCCEEDED, op.error
    server.refresh_from_db()
    assert server.status == Server.Status.RUNNING
    assert server.vmid == 100 and server.ipv4 == "192.0.2.10"
    vm = guest(pve, server.vmid)
    assert vm["status"] == "running" and vm["node"] == server.node.name
    config = vm["config"]
    assert config["cores"] in (2, "2") and str(config["memory"]) == "2048"
    assert config["ipconfig0"].startswith("ip=192.0.2.10/24,gw=192.0.2.1")
    assert unquote(config["sshkeys"]).strip() == ED25519
    assert "size=20G" in config["scsi0"]
    assert "password" not in op.params, "the password must not stay in the database"


def test_it_builds_a_container(tenant_a, ct_image, pve, worker):
    server, op = create(tenant_a, ct_image, hostname="files", disk_gb=8)
    wait_done(op)
    assert op.state == Operation.State.SUCCEEDED, op.error
    ct = guest(pve, server.vmid)
    assert ct["type"] == "lxc" and ct["status"] == "running"
    assert "ip=192.0.2.10/24" in ct["config"]["net0"]
    assert str(ct["config"]["unprivileged"]) == "1"


def test_power_actions_follow_the_server_state(tenant_a, ct_image, pve, worker):
    server, op = create(tenant_a, ct_image)
    wait_done(op)
    for action, expected, pve_status in [
        ("shutdown", Server.Status.STOPPED, "stopped"),
        ("start", Server.Status.RUNNING, "running"),
        ("reboot", Server.Status.RUNNING, "running"),
        ("stop", Server.Status.STOPPED, "stopped"),
    ]:
        op = wait_done(actions.server_power(server=server, action=action))
        assert op.state == Operation.State.SUCCEEDED, (action, op.error)
        server.refresh_from_db()
        assert server.status == expected
        assert guest(pve, server.vmid)["status"] == pve_status


def test_resize_grows_the_disk_and_changes_cores(tenant_a, vm_image, pve, worker):
    server, op = create(tenant_a, vm_image)
    wait_done(op)
    op = wait_done(actions.server_resize(server=server, cores=4, memory_mb=4096, disk_gb=30))
    assert op.state == Operation.State.SUCCEEDED, op.error
    config = guest(pve, server.vmid)["config"]
    assert str(config["cores"]) == "4" and str(config["memory"]) == "4096"
    assert "size=30G" in config["scsi0"]


def test_rename_changes_the_name_in_proxmox(tenant_a, ct_image, pve, worker):
    server, op = create(tenant_a, ct_image)
    wait_done(op)
    wait_done(actions.server_rename(server=server, hostname="web-02"))
    assert guest(pve, server.vmid)["config"]["hostname"] == "web-02"
    server.refresh_from_db()
    assert server.hostname == "web-02"


def test_reinstall_keeps_vmid_and_address(tenant_a, vm_image, pve, worker):
    server, op = create(tenant_a, vm_image)
    wait_done(op)
    vmid, ip = server.vmid, server.ipv4
    op = wait_done(actions.server_reinstall(server=server, image=vm_image, password="n3w-password"))
    assert op.state == Operation.State.SUCCEEDED, op.error
    server.refresh_from_db()
    assert (server.vmid, server.ipv4, server.status) == (vmid, ip, Server.Status.RUNNING)
    assert guest(pve, vmid)["status"] == "running"


def test_delete_removes_the_guest_and_releases_everything(tenant_a, vm_image, pve, worker):
    server, op = create(tenant_a, vm_image)
    wait_done(op)
    vmid = server.vmid
    op = wait_done(actions.server_delete(server=server, confirm_hostname="web-01"))
    assert op.state == Operation.State.SUCCEEDED, op.error
    server.refresh_from_db()
    assert server.status == Server.Status.DELETED
    assert (server.vmid, server.ipv4, server.node) == (None, None, None)
    assert guest(pve, vmid) is None
    assert actions.quota_usage(tenant_a)["servers"] == 0
    # The VMID and address are free again for the next order.
    again, op = create(tenant_a, vm_image, hostname="web-01")
    wait_done(op)
    assert (again.vmid, again.ipv4) == (vmid, "192.0.2.10")


def test_operations_on_one_server_run_one_at_a_time_in_order(tenant_a, ct_image, pve, worker):
    server, op = create(tenant_a, ct_image)
    wait_done(op)
    # Queued behind each other (as schedules do), the later one is offered to the worker first.
    first = Operation.objects.create(tenant=tenant_a, server=server, kind=Operation.Kind.SHUTDOWN)
    second = Operation.objects.create(tenant=tenant_a, server=server, kind=Operation.Kind.START)
    engine.enqueue(second.pk)
    engine.enqueue(first.pk)
    wait_done(second)
    first.refresh_from_db()
    assert first.state == second.state == Operation.State.SUCCEEDED
    assert first.finished_at <= second.started_at
    assert guest(pve, server.vmid)["status"] == "running"
