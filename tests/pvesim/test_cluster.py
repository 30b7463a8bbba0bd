"""FACTS.md sections 5, 8-13: resources, node status, RRD, consoles, aplinfo, OCI, pools, HA, firewall."""

import pytest
from proxmoxer import ResourceException

from tests.pvesim.helpers import clone_vm, until, wait, wait_ok


def test_cluster_resources_fields(prox):
    clone_vm(prox, 100)
    res = prox.cluster.resources.get()
    kinds = {r["type"] for r in res}
    assert kinds >= {"node", "qemu", "storage"}
    vm = next(r for r in res if r.get("vmid") == 100)
    assert vm["id"] == "qemu/100" and vm["status"] == "stopped" and vm["template"] == 0
    assert {"maxcpu", "maxmem", "maxdisk", "uptime", "name", "node"} <= set(vm)
    node = next(r for r in res if r["id"] == "node/pve")
    assert node["status"] == "online" and node["maxcpu"] == 32
    st = next(r for r in res if r["id"] == "storage/pve2/local-lvm")
    assert st["plugintype"] == "lvmthin" and st["shared"] == 0 and st["content"] == "images,rootdir"
    assert all(r["type"] in ("qemu", "lxc") for r in prox.cluster.resources.get(type="vm"))


def test_cluster_resources_type_qemu_is_invalid(prox):
    with pytest.raises(ResourceException) as exc:
        prox.cluster.resources.get(type="qemu")
    assert exc.value.status_code == 400
    assert exc.value.errors == {"type": "value 'qemu' does not have a value in the enumeration 'vm, storage, node, sdn'"}


def test_node_status(prox):
    st = prox.nodes("pve").status.get()
    assert st["memory"]["total"] == 128 * 1024 ** 3 and st["cpuinfo"]["cpus"] == 32
    assert all(isinstance(x, str) for x in st["loadavg"])
    assert st["pveversion"].startswith("pve-manager/9.")


@pytest.mark.parametrize("timeframe,points", [("hour", 60), ("day", 1440), ("week", 336)])
def test_rrddata(prox, timeframe, points):
    clone_vm(prox, 100)
    node = prox.nodes("pve").rrddata.get(timeframe=timeframe)
    assert len(node) == points and node[0]["time"] < node[-1]["time"]
    assert set(node[-1]) == {"time"}, "the newest row is still being filled"
    assert {"loadavg", "cpu", "memused", "memtotal", "netin"} <= set(node[-2])
    wait_ok(prox, prox.nodes("pve").qemu(100).status.start.post())
    guest = prox.nodes("pve").qemu(100).rrddata.get(timeframe=timeframe, cf="AVERAGE")
    assert len(guest) == points
    assert {"cpu", "mem", "maxmem", "netin", "netout", "diskread", "diskwrite"} <= set(guest[-2])
    assert 0 <= guest[-2]["cpu"] <= 1


def test_vncproxy_and_termproxy(prox):
    clone_vm(prox, 100)
    out = prox.nodes("pve").qemu(100).vncproxy.post(websocket=1)
    assert out["ticket"].startswith("PVEVNC:") and out["upid"].split(":")[5] == "vncproxy"
    assert "BEGIN CERTIFICATE" in out["cert"] and int(out["port"]) >= 5900
    wait_ok(prox, prox.nodes("pve").lxc.post(vmid=200, hostname="ct", rootfs="local-lvm:4",
                                             ostemplate="local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"))
    out = prox.nodes("pve").lxc(200).termproxy.post()
    assert {"port", "ticket", "user", "upid"} <= set(out)


def test_aplinfo_and_download(prox):
    apl = {a["template"]: a for a in prox.nodes("pve").aplinfo.get()}
    nc = apl["debian-12-turnkey-nextcloud_18.1-1_amd64.tar.gz"]
    assert nc["section"] == "turnkeylinux" and len(nc["sha512sum"]) == 128 and nc["type"] == "lxc"
    assert any(a["section"] == "system" for a in apl.values())
    upid = prox.nodes("pve").aplinfo.post(storage="local", template=nc["template"])
    assert upid.split(":")[5:7] == ["download", nc["template"]]
    wait_ok(prox, upid)
    vols = {c["volid"]: c for c in prox.nodes("pve").storage("local").content.get(content="vztmpl")}
    assert vols[f"local:vztmpl/{nc['template']}"]["format"] == "tgz"
    with pytest.raises(ResourceException) as exc:
        prox.nodes("pve").aplinfo.post(storage="local", template="nope.tar.gz")
    assert exc.value.status_code == 400 and exc.value.errors == {"template": "no such template"}
    with pytest.raises(ResourceException) as exc:
        prox.nodes("pve").aplinfo.post(storage="local-lvm", template=nc["template"])
    assert exc.value.content == "storage 'local-lvm' does not support templates"


def test_oci_pull_then_create_ct(prox):
    upid = prox.nodes("pve").storage("local").post("oci-registry-pull", reference="docker.io/library/nginx:alpine")
    assert upid.split(":")[5] == "download"
    wait_ok(prox, upid)
    vols = [c["volid"] for c in prox.nodes("pve").storage("local").content.get(content="vztmpl")]
    assert "local:vztmpl/nginx_alpine.tar" in vols
    wait_ok(prox, prox.nodes("pve").lxc.post(vmid=210, ostemplate="local:vztmpl/nginx_alpine.tar",
                                             hostname="nginx", rootfs="local-lvm:2"))


def test_pools(prox):
    clone_vm(prox, 100)
    clone_vm(prox, 101)
    prox.pools.post(poolid="tenant-a", comment="A")
    prox.pools.post(poolid="tenant-b")
    with pytest.raises(ResourceException) as exc:
        prox.pools.post(poolid="tenant-a")
    assert exc.value.content == "pool 'tenant-a' already exists"
    prox.pools.put(poolid="tenant-a", vms="100,101")
    members = prox.pools("tenant-a").get()["members"]
    assert [m["id"] for m in members] == ["qemu/100", "qemu/101"]
    with pytest.raises(ResourceException) as exc:
        prox.pools.put(poolid="tenant-a", vms="100")
    assert exc.value.content == "VM 100 is already a pool member"
    with pytest.raises(ResourceException) as exc:
        prox.pools.put(poolid="tenant-b", vms="100")
    assert exc.value.content == "VM 100 belongs already to pool 'tenant-a' and 'allow-move' is not set"
    with pytest.raises(ResourceException) as exc:
        prox.pools("tenant-a").delete()
    assert exc.value.content == "pool 'tenant-a' is not empty (contains VM 100)"
    prox.pools.put(poolid="tenant-a", vms="100,101", delete=1)
    with pytest.raises(ResourceException) as exc:
        prox.pools.put(poolid="tenant-a", vms="100", delete=1)
    assert exc.value.content == "VM 100 is not a pool member"
    prox.pools("tenant-a").delete()
    with pytest.raises(ResourceException) as exc:
        prox.pools("tenant-a").delete()
    assert exc.value.content == "pool 'tenant-a' does not exist"
    wait_ok(prox, prox.nodes("pve").qemu(9000).clone.post(newid=102, full=1, pool="tenant-b"))
    assert {r["vmid"]: r for r in prox.cluster.resources.get(type="vm")}[102]["pool"] == "tenant-b"
    with pytest.raises(ResourceException) as exc:
        prox.nodes("pve").qemu(9000).clone.post(newid=103, pool="missing")
    assert exc.value.status_code == 403
    assert exc.value.content == "Permission check failed (pool 'missing' does not exist)"


def test_ha_resources_and_start(prox):
    clone_vm(prox, 100)
    prox.cluster.ha.resources.post(sid="vm:100", state="started", max_restart=1, max_relocate=1, comment="portal")
    with pytest.raises(ResourceException) as exc:
        prox.cluster.ha.resources.post(sid="100")
    assert exc.value.content == "resource ID 'vm:100' already defined"
    with pytest.raises(ResourceException) as exc:
        prox.cluster.ha.resources.post(sid="555")
    assert exc.value.content == "unable to detect SID from VMID - VM/CT 555 does not exist"
    res = prox.cluster.ha.resources.get()
    assert res[0]["sid"] == "vm:100" and res[0]["state"] == "started" and "digest" in res[0]
    until(lambda: prox.nodes("pve").qemu(100).status.current.get()["status"] == "running")
    cur = prox.nodes("pve").qemu(100).status.current.get()
    assert cur["ha"]["managed"] == 1 and cur["ha"]["state"] == "started"
    upid = prox.nodes("pve").qemu(100).status.stop.post()
    assert upid.split(":")[5] == "hastop"
    wait_ok(prox, upid)
    until(lambda: prox.nodes("pve").qemu(100).status.current.get()["status"] == "stopped")
    svc = [s for s in prox.cluster.ha.status.current.get() if s["type"] == "service"]
    assert svc[0]["sid"] == "vm:100" and svc[0]["request_state"] == "stopped"
    with pytest.raises(ResourceException) as exc:
        prox.nodes("pve").qemu(100).delete()
    assert "used in HA resources and purge parameter not set" in exc.value.content
    prox.cluster.ha.resources("vm:100").delete()
    with pytest.raises(ResourceException) as exc:
        prox.cluster.ha.resources("vm:100").delete()
    assert exc.value.content == "cannot delete service 'vm:100', not HA managed!"


def test_firewall_rules_and_options(prox):
    clone_vm(prox, 100)
    fw = prox.nodes("pve").qemu(100).firewall
    assert fw.rules.post(type="in", action="ACCEPT", proto="tcp", dport="22", enable=1) is None
    fw.rules.post(type="in", action="DROP", comment="top")
    rules = fw.rules.get()
    assert [(r["pos"], r["action"]) for r in rules] == [(0, "DROP"), (1, "ACCEPT")]
    fw.rules(1).put(moveto=0)
    assert fw.rules.get()[0]["action"] == "ACCEPT"
    fw.rules(0).delete()
    assert len(fw.rules.get()) == 1
    fw.options.put(enable=1, policy_in="DROP")
    assert fw.options.get()["enable"] == 1


def test_task_error_text_and_log(prox):
    clone_vm(prox, 100)
    wait_ok(prox, prox.nodes("pve").qemu(100).status.start.post())
    status = wait(prox, prox.nodes("pve").qemu(100).status.start.post())
    log = prox.nodes("pve").tasks(status["upid"]).log.get()
    assert log[-1]["t"] == f"TASK ERROR: {status['exitstatus']}"
    errors = prox.nodes("pve").tasks.get(errors=1)
    assert errors[0]["upid"] == status["upid"]


def test_download_url_iso(prox):
    upid = prox.nodes("pve").storage("local").post("download-url", url="https://example.com/x.iso",
                                                   filename="x.iso", content="iso")
    assert upid.split(":")[5:7] == ["download", "x.iso"]
    wait_ok(prox, upid)
    assert [c["volid"] for c in prox.nodes("pve").storage("local").content.get(content="iso")] == ["local:iso/x.iso"]
