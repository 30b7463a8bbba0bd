"""Control API and Python API: faults, node failure with HA recovery, outages, reset, counters, logging."""

import json
import socket

import pytest
import requests
from proxmoxer import ResourceException

from pvesim import Simulator
from tests.pvesim.helpers import clone_vm, make_prox, until, wait, wait_ok


def test_http_fault_via_python_api(sim, prox):
    sim.add_fault(method="POST", path=r"/qemu/\d+/clone$", count=1, status=500, reason="storage 'x' is offline")
    with pytest.raises(ResourceException) as exc:
        prox.nodes("pve").qemu(9000).clone.post(newid=100)
    assert str(exc.value) == "500 Internal Server Error: storage 'x' is offline"
    wait_ok(prox, prox.nodes("pve").qemu(9000).clone.post(newid=100))


def test_task_fault_via_control_api(sim, prox, raw):
    r = raw("POST", "/_sim/faults", json={"method": "POST", "path": "status/start", "count": 1,
                                          "task_error": "start failed: QEMU exited with code 1"})
    assert r.status_code == 200
    clone_vm(prox, 100)
    status = wait(prox, prox.nodes("pve").qemu(100).status.start.post())
    assert status["exitstatus"] == "start failed: QEMU exited with code 1"
    assert prox.nodes("pve").qemu(100).status.current.get()["status"] == "stopped"
    wait_ok(prox, prox.nodes("pve").qemu(100).status.start.post())


def test_task_fault_undoes_clone(sim, prox):
    sim.add_fault(path="clone", task_error="clone failed: storage migration error")
    status = wait(prox, prox.nodes("pve").qemu(9000).clone.post(newid=100, full=1))
    assert status["exitstatus"] == "clone failed: storage migration error"
    assert 100 not in [v["vmid"] for v in prox.nodes("pve").qemu.get()]


def test_clear_faults(sim, prox, raw):
    sim.add_fault(method="GET", path="/version", count=-1, status=503, reason="busy")
    assert raw("GET", "/version").status_code == 503
    assert raw("DELETE", "/_sim/faults").status_code == 200
    assert raw("GET", "/version").status_code == 200
    assert raw("GET", "/_sim/faults", auth=False).status_code == 401


def test_node_failure_and_ha_recovery(sim, prox, raw):
    clone_vm(prox, 100, target="pve2", template=9000)
    clone_vm(prox, 101, target="pve2", template=9000)
    prox.cluster.ha.resources.post(sid="vm:100")
    until(lambda: prox.nodes("pve2").qemu(100).status.current.get()["status"] == "running")
    wait_ok(prox, prox.nodes("pve2").qemu(101).status.start.post())
    sim.set_time_scale(0.01)  # fencing takes 60 s * 0.01
    assert raw("POST", "/_sim/nodes/pve2/fail").status_code == 200
    r = raw("GET", "/nodes/pve2/qemu/101/status/current")
    assert r.status_code == 595
    assert r.reason == "Errors during connection establishment, proxy handler: No route to host"
    res = {r["id"]: r for r in prox.cluster.resources.get()}
    assert res["node/pve2"]["status"] == "offline"
    assert res["qemu/101"]["status"] == "unknown" and res["qemu/100"]["status"] == "unknown"
    assert res["qemu/100"]["hastate"] == "fence"
    seen = set()

    def recovered():
        r = {x["id"]: x for x in prox.cluster.resources.get(type="vm")}["qemu/100"]
        seen.add(r.get("hastate"))
        return r["node"] != "pve2" and r["status"] == "running" and r.get("hastate") == "started"
    until(recovered, timeout=10, interval=0.005)
    assert "recovery" in seen or "request_start" in seen
    svc = [s for s in prox.cluster.ha.status.current.get() if s["type"] == "service"][0]
    assert svc["state"] == "started"
    lrm = {s["node"]: s for s in prox.cluster.ha.status.current.get() if s["type"] == "lrm"}
    assert "dead" in lrm["pve2"]["status"]
    sim.recover_node("pve2")
    assert prox.nodes("pve2").qemu(101).status.current.get()["status"] == "stopped"


def test_outage_refuses_connections(sim, prox):
    sim.go_down()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", sim.port), timeout=2).close()
    with pytest.raises(requests.exceptions.ConnectionError):
        prox.version.get()
    sim.come_up()
    assert prox.version.get()["version"]
    sim.outage(0.3)
    with pytest.raises(requests.exceptions.ConnectionError):
        prox.version.get()
    until(lambda: _up(prox), timeout=5, interval=0.05)


def _up(prox):
    try:
        return prox.version.get()
    except requests.exceptions.ConnectionError:
        return None


def test_state_reset_and_counts(sim, prox, raw):
    clone_vm(prox, 100)
    state = sim.state()
    guest = next(g for g in state["guests"] if g["vmid"] == 100)
    assert guest["node"] == "pve" and guest["config"]["scsi0"].startswith("local-lvm:")
    assert any(t["type"] == "qmclone" for t in state["tasks"])
    counts = sim.request_counts()
    assert counts["POST /nodes/{node}/qemu/{vmid}/clone"] == 1
    assert counts["GET /nodes/{node}/tasks/{upid}/status"] >= 1
    assert raw("GET", "/_sim/requests").json()["data"]["POST /nodes/{node}/qemu/{vmid}/clone"] == 1
    assert raw("GET", "/_sim/state").json()["data"]["guests"]
    assert raw("POST", "/_sim/reset").status_code == 200
    assert 100 not in [g["vmid"] for g in sim.state()["guests"]]
    assert "POST /nodes/{node}/qemu/{vmid}/clone" not in sim.request_counts()


def test_log_requests(tmp_path, monkeypatch):
    log = tmp_path / "requests.jsonl"
    monkeypatch.setenv("PVESIM_LOG_REQUESTS", str(log))
    with Simulator(time_scale=0, schema_path="") as other:
        prox = make_prox(other)
        prox.cluster.nextid.get()
        with pytest.raises(ResourceException):
            prox.nodes("pve").qemu(9000).clone.post(newid=100, full=True)
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert lines[0]["method"] == "GET" and lines[0]["path"] == "/api2/json/cluster/nextid"
    assert lines[0]["status"] == 200
    assert lines[1]["params"] == {"newid": "100", "full": "True"} and lines[1]["status"] == 400


def test_own_checks_without_schema():
    with Simulator(time_scale=0, schema_path="") as other:
        assert other.core.schema is None
        prox = make_prox(other)
        with pytest.raises(ResourceException) as exc:
            prox.nodes("pve").qemu(9000).clone.post(newid=99, full=True)
        assert exc.value.errors == {"newid": "value must have a minimum value of 100",
                                    "full": "type check ('boolean') failed - got 'True'"}
        with pytest.raises(ResourceException) as exc:
            prox.nodes("pve").qemu(9000).snapshot.post(snapname="1bad")
        assert exc.value.errors == {"snapname": "invalid format - invalid configuration ID '1bad'"}
        with pytest.raises(ResourceException) as exc:
            prox.cluster.resources.get(type="qemu")
        assert exc.value.status_code == 400
        upid = prox.nodes("pve").qemu(9000).clone.post(newid=100, full=1, name="ok")
        wait_ok(prox, upid)


def test_custom_scenario_dict():
    layout = {"nodes": [{"name": "alpha", "cpus": 8, "memory_gib": 16}],
              "storages": [{"storage": "local", "type": "dir", "content": "images,vztmpl,backup", "size_gib": 50}],
              "guests": [{"vmid": 100, "type": "qemu", "node": "alpha", "status": "running",
                          "config": {"name": "a", "memory": 1024, "scsi0": "local:100/vm-100-disk-0.qcow2,size=8G"}}]}
    with Simulator(scenario=layout, time_scale=0) as other:
        prox = make_prox(other)
        assert [n["node"] for n in prox.nodes.get()] == ["alpha"]
        assert prox.nodes("alpha").qemu(100).status.current.get()["status"] == "running"
        assert prox.cluster.nextid.get() == "101"


def test_outage_via_control_api(sim, raw, prox):
    assert raw("POST", "/_sim/outage", json={"seconds": 0.3}).status_code == 200
    with pytest.raises(requests.exceptions.ConnectionError):
        prox.version.get()
    until(lambda: _up(prox), timeout=5, interval=0.05)


def test_stop_running_task(sim, prox):
    sim.set_time_scale(1.0)
    upid = prox.nodes("pve").qemu(9000).clone.post(newid=100, full=1)
    assert prox.nodes("pve").tasks(upid).delete() is None
    status = wait(prox, upid)
    assert status["exitstatus"] == "received interrupt"
    assert 100 not in [v["vmid"] for v in prox.nodes("pve").qemu.get()]


def test_time_scale_control(sim, raw):
    assert raw("POST", "/_sim/time-scale", json={"time_scale": 0.5}).status_code == 200
    assert sim.time_scale == 0.5


def test_task_on_failed_node_ends_with_unexpected_status(sim, prox):
    sim.set_time_scale(1.0)
    upid = prox.nodes("pve").qemu(9000).clone.post(newid=100, full=1)
    sim.fail_node("pve")
    with pytest.raises(ResourceException) as exc:
        prox.nodes("pve").tasks(upid).status.get()
    assert exc.value.status_code == 595
    sim.recover_node("pve")
    status = wait(prox, upid)
    assert status["exitstatus"] == "unexpected status"
