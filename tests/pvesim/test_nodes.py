"""Cluster membership and node boot: a node joining (pvecm add) and startall of onboot guests."""

import pytest
from proxmoxer import ResourceException

from pvesim.errors import ApiError
from tests.pvesim.helpers import clone_vm, until, wait, wait_ok

CT_TMPL = "debian-12-standard_12.7-1_amd64.tar.zst"
GIB = 1024 ** 3


def _cluster_entry(prox):
    return next(e for e in prox.cluster.status.get() if e["type"] == "cluster")


# -- a node joins --------------------------------------------------------------------------------
def test_a_node_that_joins_shows_up_in_nodes_cluster_status_and_resources(sim, prox):
    before = _cluster_entry(prox)
    sim.join_node("pve4", cores=16, memory_gb=64, disk_gb=200)
    nodes = {n["node"]: n for n in prox.nodes.get()}
    assert set(nodes) == {"pve", "pve2", "pve3", "pve4"}
    assert nodes["pve4"]["status"] == "online" and nodes["pve4"]["maxcpu"] == 16
    status = prox.cluster.status.get()
    cluster = next(e for e in status if e["type"] == "cluster")
    assert cluster["nodes"] == before["nodes"] + 1 == 4
    assert cluster["version"] == before["version"] + 1
    member = next(e for e in status if e["id"] == "node/pve4")
    assert member["online"] == 1 and member["nodeid"] == 4 and member["local"] == 0
    res = {r["id"]: r for r in prox.cluster.resources.get(type="node")}
    assert res["node/pve4"]["type"] == "node" and res["node/pve4"]["status"] == "online"
    assert (res["node/pve4"]["maxcpu"], res["node/pve4"]["maxmem"], res["node/pve4"]["maxdisk"]) == \
        (16, 64 * GIB, 200 * GIB)
    assert prox.nodes("pve4").status.get()["cpuinfo"]["cpus"] == 16
    lrm = {s["node"]: s for s in prox.cluster.ha.status.current.get() if s["type"] == "lrm"}
    assert "idle" in lrm["pve4"]["status"]


def test_a_joined_node_gets_empty_per_node_storages_and_sees_the_shared_ones(sim, prox):
    clone_vm(prox, 100)
    wait_ok(prox, prox.nodes("pve").vzdump.post(vmid="100", storage="backup"))
    sim.join_node("pve4", disk_gb=4000)
    stores = {s["storage"]: s for s in prox.nodes("pve4").storage.get()}
    assert set(stores) == {"local", "local-lvm", "backup", "templates"}
    assert stores["local"]["used"] == 0 and stores["local-lvm"]["used"] == 0
    assert stores["local-lvm"]["total"] == 4000 * 1024 ** 3, "its own disk holds the guests"
    assert stores["backup"]["shared"] == 1
    assert prox.nodes("pve4").storage("local").content.get() == []
    assert prox.nodes("pve4").storage("local-lvm").content.get() == []
    # shared storages are the same storage seen from every node
    assert prox.nodes("pve4").storage("backup").content.get() == prox.nodes("pve").storage("backup").content.get()
    assert {c["volid"] for c in prox.nodes("pve4").storage("templates").content.get()} >= \
        {"templates:9000/base-9000-disk-0.qcow2"}
    res = {r["id"] for r in prox.cluster.resources.get(type="storage")}
    assert {"storage/pve4/local", "storage/pve4/local-lvm", "storage/pve4/backup",
            "storage/pve4/templates"} <= res


def test_a_joined_node_holds_no_guests_and_takes_new_ones(sim, prox):
    sim.join_node("pve4")
    assert prox.nodes("pve4").qemu.get() == [] and prox.nodes("pve4").lxc.get() == []
    # its local storage has no templates yet, as on a fresh installation
    with pytest.raises(ResourceException) as exc:
        prox.nodes("pve4").lxc.post(vmid=200, ostemplate=f"local:vztmpl/{CT_TMPL}")
    assert exc.value.content == f"volume 'local:vztmpl/{CT_TMPL}' does not exist"
    wait_ok(prox, prox.nodes("pve4").aplinfo.post(storage="local", template=CT_TMPL))
    wait_ok(prox, prox.nodes("pve4").lxc.post(vmid=200, hostname="ct", rootfs="local-lvm:4",
                                              ostemplate=f"local:vztmpl/{CT_TMPL}"))
    clone_vm(prox, 100, target="pve4")
    assert prox.nodes("pve4").qemu(100).config.get()["scsi0"].startswith("local-lvm:vm-100-disk-0")
    clone_vm(prox, 101)
    assert "pve4" in prox.nodes("pve").qemu(101).migrate.get()["allowed_nodes"]
    wait_ok(prox, prox.nodes("pve").qemu(101).migrate.post(target="pve4"))
    wait_ok(prox, prox.nodes("pve4").qemu(101).status.start.post())
    guests = {g["vmid"]: g for g in prox.cluster.resources.get(type="vm")}
    assert guests[200]["node"] == guests[100]["node"] == guests[101]["node"] == "pve4"
    assert guests[101]["status"] == "running"
    vols = {c["volid"] for c in prox.nodes("pve4").storage("local-lvm").content.get()}
    assert {"local-lvm:vm-100-disk-0", "local-lvm:vm-101-disk-0", "local-lvm:vm-200-disk-0"} <= vols
    dump = sim.state()
    assert dump["nodes"][-1]["node"] == "pve4" and dump["nodes"][-1]["mem_used"] == 2048 * 1024 ** 2
    assert {v["volid"] for v in dump["storage"]["pve4/local-lvm"]["content"]} == vols


def test_joining_a_node_name_that_exists_fails_like_pvecm_add(sim, prox, raw):
    with pytest.raises(ApiError) as exc:
        sim.join_node("pve2")
    assert exc.value.status == 500 and exc.value.message == "can't add existing node 'pve2'"
    r = raw("POST", "/_sim/nodes/pve2/join", json={"cores": 8})
    assert r.status_code == 500 and r.reason == "can't add existing node 'pve2'"
    r = raw("POST", "/_sim/nodes/bad_name/join")
    assert r.status_code == 400
    assert r.json()["errors"] == {"node": "invalid format - value does not look like a valid node name"}
    r = raw("POST", "/_sim/nodes/pve4/join", json={"cores": 0, "memory_gb": "lots"})
    assert r.json()["errors"] == {"cores": "value must have a minimum value of 1",
                                  "memory_gb": "type check ('number') failed - got 'lots'"}
    assert _cluster_entry(prox)["nodes"] == 3


def test_a_node_joined_over_the_control_api_is_gone_after_reset(sim, prox, raw):
    version = _cluster_entry(prox)["version"]
    assert raw("POST", "/_sim/nodes/pve4/join", auth=False).status_code == 401
    r = raw("POST", "/_sim/nodes/pve4/join", json={"cores": 8, "memory_gb": 16, "disk_gb": 50})
    assert r.status_code == 200 and r.json() == {"data": None}
    dump = sim.state()
    assert dump["nodes"][-1] == {"node": "pve4", "status": "online", "maxcpu": 8, "maxmem": 16 * GIB,
                                 "maxdisk": 50 * GIB, "mem_used": 0}
    assert dump["cluster"]["config_version"] == version + 1
    assert {"pve4/local", "pve4/local-lvm"} <= set(dump["storage"])
    sim.reset()
    assert [n["node"] for n in prox.nodes.get()] == ["pve", "pve2", "pve3"]
    assert _cluster_entry(prox)["version"] == version
    dump = sim.state()
    assert [n["node"] for n in dump["nodes"]] == ["pve", "pve2", "pve3"]
    assert not any(key.startswith("pve4/") for key in dump["storage"])
    with pytest.raises(ResourceException) as exc:
        prox.nodes("pve4").status.get()
    assert exc.value.status_code == 500


# -- onboot and startall ------------------------------------------------------------------------
def test_onboot_is_a_stored_boolean_config_key(prox, raw):
    wait_ok(prox, prox.nodes("pve").qemu.post(vmid=100, scsi0="local-lvm:4", onboot=1))
    assert prox.nodes("pve").qemu(100).config.get()["onboot"] == 1
    wait_ok(prox, prox.nodes("pve").lxc.post(vmid=200, hostname="ct", rootfs="local-lvm:4", onboot=1,
                                             ostemplate=f"local:vztmpl/{CT_TMPL}"))
    assert prox.nodes("pve").lxc(200).config.get()["onboot"] == 1
    prox.nodes("pve").lxc(200).config.put(onboot=0)
    assert prox.nodes("pve").lxc(200).config.get()["onboot"] == 0
    clone_vm(prox, 101)
    assert "onboot" not in prox.nodes("pve").qemu(101).config.get()
    prox.nodes("pve").qemu(101).config.put(onboot=1)
    assert prox.nodes("pve").qemu(101).config.get()["onboot"] == 1
    prox.nodes("pve").qemu(101).config.put(delete="onboot")
    assert "onboot" not in prox.nodes("pve").qemu(101).config.get()
    # a JSON true is stored as PVE writes it
    r = raw("PUT", "/nodes/pve/qemu/101/config", json={"onboot": True})
    assert r.status_code == 200 and prox.nodes("pve").qemu(101).config.get()["onboot"] == 1
    for value in ("yes", "True", "2"):
        with pytest.raises(ResourceException) as exc:
            prox.nodes("pve").qemu(101).config.put(onboot=value)
        assert exc.value.status_code == 400
        assert exc.value.errors == {"onboot": f"type check ('boolean') failed - got '{value}'"}


def _guests_on_pve2(prox):
    """All running: 100 and 101 (onboot, startup order 2 and 1), CT 200 (onboot, no order),
    102 (onboot=0), 103 (no onboot) and 104 (onboot)."""
    for vmid in (100, 101, 102, 103, 104):
        clone_vm(prox, vmid, target="pve2")
    vms = prox.nodes("pve2").qemu
    vms(100).config.put(onboot=1, startup="order=2")
    vms(101).config.put(onboot=1, startup="order=1,up=5")
    vms(102).config.put(onboot=0)
    vms(104).config.put(onboot=1)
    wait_ok(prox, prox.nodes("pve2").aplinfo.post(storage="local", template=CT_TMPL))
    wait_ok(prox, prox.nodes("pve2").lxc.post(vmid=200, hostname="ct", rootfs="local-lvm:4", onboot=1,
                                              ostemplate=f"local:vztmpl/{CT_TMPL}", start=1))
    for vmid in (100, 101, 102, 103, 104):
        wait_ok(prox, vms(vmid).status.start.post())


def _status(prox):
    return {g["vmid"]: g["status"] for g in prox.cluster.resources.get(type="vm") if g["node"] == "pve2"}


def test_a_recovered_node_starts_its_onboot_guests_in_startup_order(sim, prox):
    _guests_on_pve2(prox)
    # HA resources are left to the HA manager, whatever their onboot says
    prox.cluster.ha.resources.post(sid="vm:104", state="stopped")
    until(lambda: _status(prox)[104] == "stopped")
    sim.fail_node("pve2")
    sim.recover_node("pve2")
    sim.wait_idle()
    assert _status(prox) == {100: "running", 101: "running", 102: "stopped", 103: "stopped",
                             104: "stopped", 200: "running"}
    tasks = prox.nodes("pve2").tasks.get(typefilter="startall")
    assert len(tasks) == 1 and tasks[0]["status"] == "OK" and tasks[0]["user"] == "root@pam"
    assert tasks[0]["upid"].split(":")[6] == ""
    log = [line["t"] for line in prox.nodes("pve2").tasks(tasks[0]["upid"]).log.get()]
    assert log == ["Starting VM 101", "Waiting for 5 seconds (startup delay)", "Starting VM 100",
                   "Starting CT 200", "TASK OK"]
    starts = [t for t in prox.nodes("pve2").tasks.get() if t["user"] == "root@pam"
              and t["type"] in ("qmstart", "vzstart")]
    assert sorted((t["type"], t["id"], t["status"]) for t in starts) == [
        ("qmstart", "100", "OK"), ("qmstart", "101", "OK"), ("vzstart", "200", "OK")]


def test_onboot_guests_stay_stopped_until_the_boot_delay_has_passed(sim, prox):
    _guests_on_pve2(prox)
    sim.fail_node("pve2")
    sim.set_time_scale(0.1)  # 3 s until startall, scaled
    sim.recover_node("pve2")
    assert _status(prox)[100] == "stopped"
    assert prox.nodes("pve2").tasks.get(typefilter="startall") == []
    until(lambda: _status(prox)[101] == "running", timeout=10)
    sim.set_time_scale(0)
    sim.wait_idle()
    assert _status(prox) == {100: "running", 101: "running", 102: "stopped", 103: "stopped",
                             104: "running", 200: "running"}


def test_a_failed_start_at_boot_is_reported_in_the_startall_log(sim, prox):
    clone_vm(prox, 100, target="pve2")
    prox.nodes("pve2").qemu(100).config.put(onboot=1)
    sim.fail_node("pve2")
    sim.add_fault(method="POST", path=r"/qemu/100/status/start", task_error="start failed: QEMU exited with code 1")
    sim.recover_node("pve2")
    sim.wait_idle()
    task = prox.nodes("pve2").tasks.get(typefilter="startall")[0]
    assert task["status"] == "OK"
    log = [line["t"] for line in prox.nodes("pve2").tasks(task["upid"]).log.get()]
    assert log == ["Starting VM 100", "Starting VM 100 failed: start failed: QEMU exited with code 1", "TASK OK"]
    assert _status(prox)[100] == "stopped"


def test_recovering_a_node_that_never_failed_runs_no_startall(sim, prox):
    clone_vm(prox, 100, target="pve2")
    prox.nodes("pve2").qemu(100).config.put(onboot=1)
    sim.recover_node("pve2")
    sim.wait_idle()
    assert prox.nodes("pve2").tasks.get(typefilter="startall") == []
    assert wait(prox, prox.nodes("pve2").qemu(100).status.start.post())["exitstatus"] == "OK"
