"""FACTS.md sections 4, 6 (snapshots) and 7 (vzdump, backup listing, restore)."""

import re
import time

import pytest
from proxmoxer import ResourceException

from tests.pvesim.helpers import clone_vm, until, wait, wait_ok

BACKUP_RE = re.compile(r"^backup:backup/vzdump-qemu-100-(\d{4})_(\d\d)_(\d\d)-(\d\d)_(\d\d)_(\d\d)\.vma\.zst$")


def test_snapshot_list_create_rollback_delete(prox):
    clone_vm(prox, 100)
    vm = prox.nodes("pve").qemu(100)
    snaps = vm.snapshot.get()
    assert snaps == [{"name": "current", "description": "You are here!", "running": 0,
                      "digest": snaps[0]["digest"]}]
    upid = vm.snapshot.post(snapname="before-upgrade", description="pre", vmstate=0)
    assert upid.split(":")[5] == "qmsnapshot"
    wait_ok(prox, upid)
    vm.config.put(memory=8192)
    wait_ok(prox, vm.snapshot.post(snapname="s2"))
    snaps = vm.snapshot.get()
    assert [s["name"] for s in snaps] == ["before-upgrade", "s2", "current"]
    assert snaps[1]["parent"] == "before-upgrade" and snaps[-1]["parent"] == "s2"
    assert "snaptime" in snaps[0] and "snaptime" not in snaps[-1]
    assert vm.config.get()["parent"] == "s2"
    status = wait(prox, vm.snapshot.post(snapname="s2"))
    assert status["exitstatus"] == "snapshot name 's2' already used"
    upid = vm.snapshot("before-upgrade").rollback.post()
    assert upid.split(":")[5] == "qmrollback"
    wait_ok(prox, upid)
    assert vm.config.get()["memory"] != "8192"
    upid = vm.snapshot("s2").delete()
    assert upid.split(":")[5] == "qmdelsnapshot"
    wait_ok(prox, upid)
    assert [s["name"] for s in vm.snapshot.get()] == ["before-upgrade", "current"]
    assert wait(prox, vm.snapshot("nope").delete())["exitstatus"] == "snapshot 'nope' does not exist"


@pytest.mark.parametrize("name", ["current", "pending"])
def test_reserved_snapshot_names_are_synchronous(prox, name):
    clone_vm(prox, 100)
    with pytest.raises(ResourceException) as exc:
        prox.nodes("pve").qemu(100).snapshot.post(snapname=name)
    assert str(exc.value) == f"500 Internal Server Error: unable to use snapshot name '{name}' (reserved name)"


def test_invalid_snapname_is_400(prox):
    clone_vm(prox, 100)
    with pytest.raises(ResourceException) as exc:
        prox.nodes("pve").qemu(100).snapshot.post(snapname="1bad")
    assert exc.value.errors == {"snapname": "invalid format - invalid configuration ID '1bad'"}


def test_snapshot_of_template_fails_in_task(prox):
    status = wait(prox, prox.nodes("pve").qemu(9000).snapshot.post(snapname="x1"))
    assert status["exitstatus"] == "you can't take a snapshot if it's a template"


def test_vzdump_volid_listing_and_lock(sim, prox):
    clone_vm(prox, 100)
    sim.set_time_scale(1.0)
    upid = prox.nodes("pve").vzdump.post(vmid="100", storage="backup", mode="snapshot", compress="zstd",
                                         **{"notes-template": "{{guestname}} on {{node}}"})
    assert upid.split(":")[5:7] == ["vzdump", "100"]
    until(lambda: prox.nodes("pve").qemu(100).config.get().get("lock") == "backup")
    with pytest.raises(ResourceException) as exc:
        prox.nodes("pve").qemu(100).config.put(memory=1024)
    assert str(exc.value) == "500 Internal Server Error: VM is locked (backup)"
    status = wait(prox, prox.nodes("pve").qemu(100).snapshot.post(snapname="during"))
    assert status["exitstatus"] == "VM is locked (backup)"
    status = wait(prox, prox.nodes("pve").qemu(100).status.start.post())
    assert status["exitstatus"] == "VM is locked (backup)"
    assert prox.nodes("pve").qemu(100).status.current.get()["lock"] == "backup"
    sim.set_time_scale(0)
    wait_ok(prox, upid)
    content = prox.nodes("pve").storage("backup").content.get(content="backup", vmid=100)
    assert len(content) == 1
    entry = content[0]
    m = BACKUP_RE.match(entry["volid"])
    assert m, entry["volid"]
    assert entry["format"] == "vma.zst" and entry["subtype"] == "qemu" and entry["vmid"] == 100
    assert entry["content"] == "backup" and entry["notes"] == "vm-100 on pve"
    stamp = time.strftime("%Y_%m_%d-%H_%M_%S", time.localtime(entry["ctime"]))
    assert entry["volid"].endswith(f"-{stamp}.vma.zst")
    # the shared storage shows the same backup from another node
    assert prox.nodes("pve3").storage("backup").content.get(content="backup")[0]["volid"] == entry["volid"]


def test_vzdump_multiple_has_empty_id_and_lxc_tar(prox):
    clone_vm(prox, 100)
    wait_ok(prox, prox.nodes("pve").lxc.post(vmid=200, hostname="ct", rootfs="local-lvm:4",
                                             ostemplate="local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"))
    upid = prox.nodes("pve").vzdump.post(vmid="100,200", storage="local", compress="gzip")
    assert upid.split(":")[6] == ""
    wait_ok(prox, upid)
    vols = sorted(c["volid"] for c in prox.nodes("pve").storage("local").content.get(content="backup"))
    assert vols[0].startswith("local:backup/vzdump-lxc-200-") and vols[0].endswith(".tar.gz")
    assert vols[1].startswith("local:backup/vzdump-qemu-100-") and vols[1].endswith(".vma.gz")


def test_restore_qemu_and_force(prox):
    clone_vm(prox, 100)
    wait_ok(prox, prox.nodes("pve").vzdump.post(vmid="100", storage="backup", compress="zstd"))
    volid = prox.nodes("pve").storage("backup").content.get(content="backup")[0]["volid"]
    upid = prox.nodes("pve2").qemu.post(vmid=300, archive=volid, storage="local-lvm", unique=1)
    assert upid.split(":")[5] == "qmrestore"
    wait_ok(prox, upid)
    conf = prox.nodes("pve2").qemu(300).config.get()
    assert conf["name"] == "vm-100" and conf["scsi0"].startswith("local-lvm:vm-300-disk-0")
    with pytest.raises(ResourceException) as exc:
        prox.nodes("pve").qemu.post(vmid=100, archive=volid)
    assert exc.value.content == "unable to restore VM 100 - VM 100 already exists on node 'pve'"
    prox.nodes("pve").qemu(100).config.put(memory=9999)
    wait_ok(prox, prox.nodes("pve").qemu.post(vmid=100, archive=volid, force=1))
    assert prox.nodes("pve").qemu(100).config.get()["memory"] != "9999"


def test_restore_lxc(prox):
    ct = prox.nodes("pve").lxc
    wait_ok(prox, ct.post(vmid=200, hostname="ct", rootfs="local-lvm:4",
                          ostemplate="local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"))
    wait_ok(prox, prox.nodes("pve").vzdump.post(vmid="200", storage="backup", compress="zstd"))
    volid = prox.nodes("pve").storage("backup").content.get(content="backup", vmid=200)[0]["volid"]
    assert volid.endswith(".tar.zst")
    wait_ok(prox, prox.nodes("pve").lxc(200).status.start.post())
    with pytest.raises(ResourceException) as exc:
        ct.post(vmid=200, ostemplate=volid, restore=1, force=1)
    assert exc.value.content == "can't overwrite running container"
    upid = ct.post(vmid=201, ostemplate=volid, restore=1, storage="local-lvm")
    assert upid.split(":")[5] == "vzrestore"
    wait_ok(prox, upid)
    assert prox.nodes("pve").lxc(201).config.get()["hostname"] == "ct"


def test_restore_sets_create_lock(sim, prox):
    clone_vm(prox, 100)
    wait_ok(prox, prox.nodes("pve").vzdump.post(vmid="100", storage="backup"))
    volid = prox.nodes("pve").storage("backup").content.get(content="backup")[0]["volid"]
    assert volid.endswith(".vma")
    sim.set_time_scale(1.0)
    upid = prox.nodes("pve").qemu.post(vmid=301, archive=volid)
    assert prox.nodes("pve").qemu(301).status.current.get()["lock"] == "create"
    sim.set_time_scale(0)
    wait_ok(prox, upid)


def test_backup_storage_full(prox, sim):
    clone_vm(prox, 100)
    state = sim.core.state
    with state.lock:
        state.store("pve", "local").cfg["total"] = state.store("pve", "local").used + 1024
    status = wait(prox, prox.nodes("pve").vzdump.post(vmid="100", storage="local"))
    assert status["exitstatus"] == "job errors"
    log = [line["t"] for line in prox.nodes("pve").tasks(status["upid"]).log.get()]
    assert any("No space left on device" in line for line in log)
    assert "lock" not in prox.nodes("pve").qemu(100).config.get()


def test_backup_wrong_storage(prox):
    clone_vm(prox, 100)
    with pytest.raises(ResourceException) as exc:
        prox.nodes("pve").vzdump.post(vmid="100", storage="local-lvm")
    assert exc.value.content == "can't use storage 'local-lvm' for backups - wrong content type"


def _tasks(prox, typefilter="vzdump"):
    return [t["upid"] for t in prox.cluster.tasks.get() if t["type"] == typefilter]


def test_vzdump_sent_to_a_node_without_the_guest_answers_ok_and_starts_no_task(prox, raw):
    clone_vm(prox, 100)
    clone_vm(prox, 101, target="pve2")
    assert prox.nodes("pve3").vzdump.post(vmid="100", storage="backup") == "OK"
    r = raw("POST", "/nodes/pve3/vzdump", data={"vmid": "100,101", "storage": "backup"})
    assert r.status_code == 200 and r.json() == {"data": "OK"}
    prox.pools.post(poolid="tenant-a")
    prox.pools.put(poolid="tenant-a", vms="100")
    assert prox.nodes("pve2").vzdump.post(pool="tenant-a", storage="backup") == "OK"
    assert _tasks(prox) == [] and prox.nodes("pve3").tasks.get() == []
    assert prox.nodes("pve").storage("backup").content.get(content="backup") == []
    assert "lock" not in prox.nodes("pve").qemu(100).config.get()


def test_vzdump_of_a_guest_that_exists_nowhere_fails_in_the_task(prox):
    upid = prox.nodes("pve3").vzdump.post(vmid="555", storage="backup")
    assert upid.split(":")[5:7] == ["vzdump", "555"]
    status = wait(prox, upid)
    assert status["exitstatus"] == "job errors"
    log = [line["t"] for line in prox.nodes("pve3").tasks(upid).log.get()]
    assert log == ["ERROR: Backup of VM 555 failed - unable to find VM '555'", "TASK ERROR: job errors"]


def test_vzdump_with_a_mixed_list_backs_up_only_the_local_guests(prox):
    clone_vm(prox, 100)
    clone_vm(prox, 101, target="pve2")
    # the one local guest names the task, as if it had been given alone
    upid = prox.nodes("pve").vzdump.post(vmid="101,100", storage="backup")
    assert upid.split(":")[6] == "100"
    wait_ok(prox, upid)
    log = [line["t"] for line in prox.nodes("pve").tasks(upid).log.get()]
    assert not any("101" in line for line in log)
    backups = prox.nodes("pve").storage("backup").content.get(content="backup")
    assert [b["vmid"] for b in backups] == [100]
    # an orphaned id is kept and fails visibly; the guest on pve2 is still left out
    upid = prox.nodes("pve").vzdump.post(vmid="555,101,100", storage="backup")
    assert upid.split(":")[6] == ""
    status = wait(prox, upid)
    assert status["exitstatus"] == "job errors"
    log = [line["t"] for line in prox.nodes("pve").tasks(upid).log.get()]
    assert log[0] == "Starting Backup of VM 100 (qemu)"
    assert "ERROR: Backup of VM 555 failed - unable to find VM '555'" in log
    assert not any("101" in line for line in log)
    backups = prox.nodes("pve").storage("backup").content.get(content="backup")
    assert sorted(b["vmid"] for b in backups) == [100, 100]
    assert "lock" not in prox.nodes("pve2").qemu(101).config.get()


def test_vzdump_all_runs_a_task_even_on_a_node_without_guests(prox):
    clone_vm(prox, 101, target="pve2")
    upid = prox.nodes("pve3").vzdump.post(all=1, storage="backup")
    assert upid.split(":")[5:7] == ["vzdump", ""]
    wait_ok(prox, upid)
    assert prox.nodes("pve3").storage("backup").content.get(content="backup") == []
    upid = prox.nodes("pve2").vzdump.post(all=1, storage="backup")
    assert upid.split(":")[6] == "101"
    wait_ok(prox, upid)
    assert [b["vmid"] for b in prox.nodes("pve").storage("backup").content.get(content="backup")] == [101]


def test_vzdump_parameter_errors(prox):
    with pytest.raises(ResourceException) as exc:
        prox.nodes("pve").vzdump.post(storage="backup")
    assert exc.value.status_code == 400 and exc.value.errors == {"vmid": "property is missing"}
    with pytest.raises(ResourceException) as exc:
        prox.nodes("pve").vzdump.post(vmid="100", all=1)
    assert exc.value.errors == {"all": "option conflicts with option 'vmid'"}
    with pytest.raises(ResourceException) as exc:
        prox.nodes("pve").vzdump.post(pool="nope")
    assert exc.value.content == "pool 'nope' does not exist"
