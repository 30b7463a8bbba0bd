"""FACTS.md sections 3, 4 and 6: create, clone, config, power, resize, template, destroy, migrate."""

from urllib.parse import quote

import pytest
from proxmoxer import ResourceException

from tests.pvesim.helpers import clone_vm, until, wait, wait_ok

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx3 me@host"


def test_demo_layout(prox):
    nodes = {n["node"]: n for n in prox.nodes.get()}
    assert set(nodes) == {"pve", "pve2", "pve3"}
    assert all(n["maxcpu"] == 32 and n["maxmem"] == 128 * 1024 ** 3 for n in nodes.values())
    vms = {v["vmid"]: v for v in prox.nodes("pve").qemu.get()}
    assert vms[9000]["name"] == "debian-12-cloud" and vms[9000]["template"] == 1
    assert vms[9001]["name"] == "ubuntu-2404-cloud"
    conf = prox.nodes("pve").qemu(9000).config.get()
    assert conf["scsi0"].endswith("size=3G") and "cloudinit" in conf["ide2"] and "bridge=vmbr0" in conf["net0"]
    for node in nodes:
        tmpl = {c["volid"] for c in prox.nodes(node).storage("local").content.get(content="vztmpl")}
        assert tmpl == {"local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
                        "local:vztmpl/ubuntu-24.04-standard_24.04-2_amd64.tar.zst",
                        "local:vztmpl/almalinux-9-default_20240911_amd64.tar.xz"}
    stores = {s["storage"]: s for s in prox.nodes("pve2").storage.get()}
    assert stores["local"]["content"] == "backup,iso,vztmpl" and stores["local-lvm"]["type"] == "lvmthin"
    assert stores["backup"]["shared"] == 1
    assert prox.cluster.nextid.get() == "100"


def test_full_clone_to_other_node_sets_clone_lock(sim, prox):
    sim.set_time_scale(0.3)
    upid = prox.nodes("pve").qemu(9000).clone.post(newid=100, name="web-01", full=1, target="pve2",
                                                   storage="local-lvm")
    res = {r["vmid"]: r for r in prox.cluster.resources.get(type="vm")}
    assert res[100]["lock"] == "clone" and res[100]["node"] == "pve2"
    with pytest.raises(ResourceException) as exc:
        prox.nodes("pve2").qemu(100).config.put(memory=4096)
    assert str(exc.value) == "500 Internal Server Error: VM is locked (clone)"
    sim.set_time_scale(0)
    wait_ok(prox, upid)
    conf = prox.nodes("pve2").qemu(100).config.get()
    assert "lock" not in conf and conf["scsi0"].startswith("local-lvm:vm-100-disk-0")
    assert conf["net0"] != prox.nodes("pve").qemu(9000).config.get()["net0"]
    assert prox.nodes("pve2").qemu(100).status.current.get()["status"] == "stopped"
    vols = {c["volid"] for c in prox.nodes("pve2").storage("local-lvm").content.get()}
    assert "local-lvm:vm-100-disk-0" in vols and "local-lvm:vm-100-cloudinit" in vols


def test_clone_errors(prox):
    clone_vm(prox, 100)
    with pytest.raises(ResourceException) as exc:
        prox.nodes("pve").qemu(100).clone.post(newid=101, target="pve2")
    assert exc.value.content == "can't clone VM to node 'pve2' (VM uses local storage)"
    with pytest.raises(ResourceException) as exc:
        prox.nodes("pve").qemu(9000).clone.post(newid=100)
    assert exc.value.content == "unable to create VM 100: config file already exists"
    with pytest.raises(ResourceException) as exc:
        prox.nodes("pve").qemu(9000).clone.post(newid=102, full=0, storage="local-lvm")
    assert exc.value.content == "parameter 'storage' not allowed for linked clones"
    with pytest.raises(ResourceException) as exc:
        prox.nodes("pve").qemu(9000).clone.post(newid=103, name="bad_name")
    assert exc.value.status_code == 400 and "name" in exc.value.errors


def test_linked_clone_of_template(prox):
    wait_ok(prox, prox.nodes("pve").qemu(9001).clone.post(newid=120, name="linked"))
    conf = prox.nodes("pve").qemu(120).config.get()
    assert conf["scsi0"].startswith("templates:120/vm-120-disk-0.qcow2")


def test_create_qemu_with_cloud_init(prox):
    upid = prox.nodes("pve").qemu.post(vmid=105, name="ci", memory=2048, cores=2, net0="virtio,bridge=vmbr0",
                                       scsi0="local-lvm:32", ide2="local-lvm:cloudinit", ciuser="debian",
                                       cipassword="hunter2", sshkeys=quote(KEY, safe=""),
                                       ipconfig0="ip=10.0.0.5/24,gw=10.0.0.1", tags="web;prod")
    assert upid.split(":")[5] == "qmcreate"
    wait_ok(prox, upid)
    conf = prox.nodes("pve").qemu(105).config.get()
    assert conf["cipassword"] == "**********"
    assert conf["sshkeys"] == quote(KEY, safe="")
    assert conf["ipconfig0"] == "ip=10.0.0.5/24,gw=10.0.0.1"
    assert conf["scsi0"] == "local-lvm:vm-105-disk-0,size=32G"
    assert conf["ide2"] == "local-lvm:vm-105-cloudinit,media=cdrom"
    assert conf["net0"].startswith("virtio=BC:24:11:") and len(conf["digest"]) == 40
    res = {r["vmid"]: r for r in prox.cluster.resources.get(type="vm")}
    assert res[105]["tags"] == "web;prod"


def test_raw_sshkeys_rejected(prox):
    with pytest.raises(ResourceException) as exc:
        prox.nodes("pve").qemu.post(vmid=106, sshkeys=KEY)
    assert exc.value.status_code == 400
    assert exc.value.errors["sshkeys"] == f"invalid format - invalid urlencoded string: {KEY}"


def test_create_existing_vmid(prox):
    with pytest.raises(ResourceException) as exc:
        prox.nodes("pve2").qemu.post(vmid=9000)
    assert exc.value.content == "unable to create VM 9000 - VM 9000 already exists on node 'pve'"


def test_create_lxc_and_power_semantics(prox):
    upid = prox.nodes("pve").lxc.post(vmid=200, ostemplate="local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
                                      hostname="ct200", memory=512, cores=1, rootfs="local-lvm:8",
                                      net0="name=eth0,bridge=vmbr0,ip=dhcp", password="s3cret!!", unprivileged=1)
    assert upid.split(":")[5] == "vzcreate"
    wait_ok(prox, upid)
    ct = prox.nodes("pve").lxc(200)
    conf = ct.config.get()
    assert conf["rootfs"] == "local-lvm:vm-200-disk-0,size=8G" and conf["ostype"] == "debian"
    assert conf["unprivileged"] == 1 and conf["memory"] == 512 and conf["cores"] == 1
    with pytest.raises(ResourceException) as exc:
        ct.status.shutdown.post()
    assert exc.value.content == "CT 200 not running"
    wait_ok(prox, ct.status.start.post())
    with pytest.raises(ResourceException) as exc:
        ct.status.start.post()
    assert str(exc.value) == "500 Internal Server Error: CT 200 already running"
    wait_ok(prox, ct.status.shutdown.post())
    assert ct.status.current.get()["status"] == "stopped"


def test_qemu_power_semantics(prox):
    clone_vm(prox, 100)
    vm = prox.nodes("pve").qemu(100)
    assert wait(prox, vm.status.stop.post())["exitstatus"] == "OK"
    assert wait(prox, vm.status.shutdown.post())["exitstatus"] == "OK"
    for action in ("reboot", "suspend", "resume"):
        with pytest.raises(ResourceException) as exc:
            getattr(vm.status, action).post()
        assert exc.value.content == "VM 100 not running"
    wait_ok(prox, vm.status.start.post())
    cur = vm.status.current.get()
    assert cur["status"] == "running" and cur["qmpstatus"] == "running" and cur["ha"] == {"managed": 0}
    status = wait(prox, vm.status.start.post())
    assert status["exitstatus"] == "VM 100 already running"
    log = prox.nodes("pve").tasks(status["upid"]).log.get()
    assert log[-1]["t"] == "TASK ERROR: VM 100 already running"
    wait_ok(prox, vm.status.suspend.post())
    assert vm.status.current.get()["qmpstatus"] == "paused"
    assert wait(prox, vm.status.shutdown.post())["exitstatus"] == "VM is paused - cannot shutdown"
    wait_ok(prox, vm.status.resume.post())
    wait_ok(prox, vm.status.reboot.post())
    with pytest.raises(ResourceException) as exc:
        prox.nodes("pve").qemu(100).delete()
    assert exc.value.content == "VM 100 is running - destroy failed"
    wait_ok(prox, vm.status.stop.post())
    upid = prox.nodes("pve").qemu(100).delete(purge=1)
    assert upid.split(":")[5] == "qmdestroy"
    wait_ok(prox, upid)
    assert 100 not in [v["vmid"] for v in prox.nodes("pve").qemu.get()]


def test_config_put_post_and_digest(prox):
    clone_vm(prox, 100)
    vm = prox.nodes("pve").qemu(100)
    digest = vm.config.get()["digest"]
    assert vm.config.put(memory=4096, cores=4, digest=digest) is None
    with pytest.raises(ResourceException) as exc:
        vm.config.put(memory=1024, digest=digest)
    assert exc.value.content == "detected modified configuration - file changed by other user? Try again."
    assert vm.config.post(description="hello") is None
    upid = vm.config.post(scsi1="local-lvm:10")
    wait_ok(prox, upid)
    conf = vm.config.get()
    assert conf["memory"] == "4096" and conf["scsi1"] == "local-lvm:vm-100-disk-1,size=10G"
    vm.config.put(delete="description")
    assert "description" not in vm.config.get()


def test_unknown_guest(prox):
    with pytest.raises(ResourceException) as exc:
        prox.nodes("pve2").qemu(9000).status.current.get()
    assert exc.value.content == "Configuration file 'nodes/pve2/qemu-server/9000.conf' does not exist"


def test_resize(prox):
    clone_vm(prox, 100)
    vm = prox.nodes("pve").qemu(100)
    upid = vm.resize.put(disk="scsi0", size="+10G")
    assert upid.split(":")[5] == "resize"
    wait_ok(prox, upid)
    assert "size=13G" in vm.config.get()["scsi0"]
    wait_ok(prox, vm.resize.put(disk="scsi0", size="20G"))
    assert wait(prox, vm.resize.put(disk="scsi0", size="5G"))["exitstatus"] == "shrinking disks is not supported"
    assert wait(prox, vm.resize.put(disk="ide2", size="+1G"))["exitstatus"] == "you can't resize a cdrom"


def test_template_conversion(prox):
    clone_vm(prox, 100)
    wait_ok(prox, prox.nodes("pve").qemu(100).template.post())
    conf = prox.nodes("pve").qemu(100).config.get()
    assert conf["template"] == 1 and "base-100-disk-0" in conf["scsi0"]
    res = {r["vmid"]: r for r in prox.cluster.resources.get(type="vm")}
    assert res[100]["template"] == 1


def test_migrate(prox, sim):
    clone_vm(prox, 100)
    vm = prox.nodes("pve").qemu(100)
    with pytest.raises(ResourceException) as exc:
        vm.migrate.post(target="pve")
    assert exc.value.status_code == 400 and exc.value.errors == {"target": "target is local node."}
    check = vm.migrate.get(target="pve2")
    assert check["running"] == 0 and "pve2" in check["allowed_nodes"] and check["local_disks"]
    wait_ok(prox, vm.status.start.post())
    with pytest.raises(ResourceException) as exc:
        vm.migrate.post(target="pve2")
    assert exc.value.content == "can't migrate running VM without --online"
    sim.set_time_scale(0.2)
    upid = vm.migrate.post(target="pve2", online=1, **{"with-local-disks": 1})
    assert upid.split(":")[5] == "qmigrate"
    until(lambda: {r["vmid"]: r for r in prox.cluster.resources.get(type="vm")}[100].get("lock") == "migrate")
    sim.set_time_scale(0)
    wait_ok(prox, upid)
    assert prox.nodes("pve2").qemu(100).status.current.get()["status"] == "running"
    assert "local-lvm:vm-100-disk-0" in {c["volid"] for c in prox.nodes("pve2").storage("local-lvm").content.get()}


def test_node_memory_limit(prox):
    clone_vm(prox, 100)
    prox.nodes("pve").qemu(100).config.put(memory=200 * 1024)
    status = wait(prox, prox.nodes("pve").qemu(100).status.start.post())
    assert status["exitstatus"] == "start failed: QEMU exited with code 1"


def test_storage_full(prox):
    clone_vm(prox, 100)
    status = wait(prox, prox.nodes("pve").qemu(100).resize.put(disk="scsi0", size="+9000G"))
    assert "insufficient free space" in status["exitstatus"]
    upid = prox.nodes("pve").qemu.post(vmid=107, scsi0="local-lvm:9000")
    status = wait(prox, upid)
    assert status["exitstatus"].startswith("lvcreate 'pve/vm-107-disk-0' error:")
    assert 107 not in [v["vmid"] for v in prox.nodes("pve").qemu.get()]
