"""FACTS.md sections 1-3: envelope, errors, reason phrases, auth and UPIDs."""

import re
from urllib.parse import quote

import pytest
from proxmoxer import ProxmoxAPI, ResourceException
from proxmoxer.tools import Tasks

from tests.pvesim.helpers import wait_ok

UPID_RE = re.compile(r"^UPID:([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):"
                     r"([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$")


def test_envelope_and_content_type(raw):
    r = raw("GET", "/version")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json;charset=UTF-8"
    assert r.json()["data"]["version"].startswith("9.")


def test_nextid_is_a_string(raw, prox):
    assert raw("GET", "/cluster/nextid").json() == {"data": "100"}
    assert prox.cluster.nextid.get(vmid=150) == "150"


def test_nextid_taken_vmid_is_400_with_errors(raw):
    r = raw("GET", "/cluster/nextid", params={"vmid": 9000})
    assert r.status_code == 400
    assert r.reason == "Parameter verification failed."
    assert r.json()["errors"] == {"vmid": "VM 9000 already exists"}
    assert r.json()["message"] == "Parameter verification failed.\n"
    assert r.json()["data"] is None


def test_booleans_out_as_integers(prox):
    conf = prox.nodes("pve").qemu(9000).config.get()
    assert conf["template"] == 1
    storages = {s["storage"]: s for s in prox.nodes("pve").storage.get()}
    assert storages["backup"]["shared"] == 1 and storages["local"]["shared"] == 0


def test_python_true_is_rejected_like_pve(prox):
    with pytest.raises(ResourceException) as exc:
        prox.nodes("pve").qemu(9000).clone.post(newid=100, full=True)
    assert exc.value.status_code == 400
    assert exc.value.errors == {"full": "type check ('boolean') failed - got 'True'"}
    assert str(exc.value) == ("400 Bad Request: Parameter verification failed. - "
                              "{'full': \"type check ('boolean') failed - got 'True'\"}")


def test_missing_required_parameter(prox):
    with pytest.raises(ResourceException) as exc:
        prox.nodes("pve").qemu(9000).clone.post(name="x")
    assert exc.value.errors == {"newid": "property is missing and it is not optional"}


def test_duplicate_uri_parameter_conflict(raw):
    r = raw("POST", "/nodes/pve/qemu/9000/clone", data={"newid": 100, "vmid": 9001})
    assert r.status_code == 400
    assert r.json()["errors"]["vmid"] == "duplicate parameter (already defined in URI) with conflicting values!"


def test_500_message_in_reason_phrase_and_body(raw, prox):
    r = raw("GET", "/nodes/pve/qemu/555/config")
    assert r.status_code == 500
    assert r.reason == "Configuration file 'nodes/pve/qemu-server/555.conf' does not exist"
    assert r.json() == {"data": None, "message": "Configuration file 'nodes/pve/qemu-server/555.conf' does not exist\n"}
    with pytest.raises(ResourceException) as exc:
        prox.nodes("pve").qemu(555).config.get()
    assert str(exc.value) == "500 Internal Server Error: Configuration file 'nodes/pve/qemu-server/555.conf' does not exist"


def test_unknown_path_and_method_are_501(raw):
    r = raw("POST", "/nodes/pve/qemu/9000/foo")
    assert r.status_code == 501
    assert r.reason == "Method 'POST /nodes/pve/qemu/9000/foo' not implemented"
    r = raw("PATCH", "/version")
    assert r.status_code == 501 and r.reason == "Method 'PATCH /version' not implemented"
    r = raw("DELETE", "/version")
    assert r.status_code == 501
    assert r.reason == "Method 'DELETE /version' not implemented"


def test_401_without_credentials_has_no_body(raw):
    r = raw("GET", "/version", auth=False)
    assert r.status_code == 401 and r.reason == "No ticket" and r.content == b""


def test_401_bad_token(sim, raw):
    r = raw("GET", "/version", auth=False, headers={"Authorization": f"PVEAPIToken={sim.token_id}=wrong"})
    assert r.status_code == 401 and r.reason == "Authentication failed!" and r.content == b""
    bad = ProxmoxAPI("127.0.0.1", port=sim.port, user="root@pam", token_name="portal", token_value="nope",
                     verify_ssl=sim.ca_cert_path, timeout=5)
    with pytest.raises(ResourceException) as exc:
        bad.version.get()
    assert exc.value.status_code == 401
    assert exc.value.content == "Authentication failed!"


def test_ticket_login_and_csrf(sim, raw):
    r = raw("POST", "/access/ticket", auth=False, data={"username": sim.user, "password": sim.password})
    data = r.json()["data"]
    assert re.match(r"^PVE:root@pam:[0-9A-F]{8}::\S+$", data["ticket"])
    assert re.match(r"^[0-9A-F]{8}:\S+$", data["CSRFPreventionToken"])
    cookies = {"PVEAuthCookie": data["ticket"]}
    assert raw("GET", "/version", auth=False, cookies=cookies).status_code == 200
    r = raw("POST", "/pools", auth=False, cookies=cookies, data={"poolid": "p1"})
    assert r.status_code == 401 and r.reason == "Permission denied - invalid csrf token"
    r = raw("POST", "/pools", auth=False, cookies=cookies, data={"poolid": "p1"},
            headers={"CSRFPreventionToken": data["CSRFPreventionToken"]})
    assert r.status_code == 200
    r = raw("POST", "/access/ticket", auth=False, data={"username": sim.user, "password": "bad"})
    assert r.status_code == 401 and r.reason == "authentication failure"


def test_proxmoxer_password_login(sim):
    prox = ProxmoxAPI("127.0.0.1", port=sim.port, user=sim.user, password=sim.password,
                      verify_ssl=sim.ca_cert_path, timeout=5)
    assert prox.pools.post(poolid="viaticket") is None
    assert [p["poolid"] for p in prox.pools.get()] == ["viaticket"]


def test_token_cannot_get_ticket(raw):
    r = raw("POST", "/access/ticket", data={"username": "root@pam", "password": "x"})
    assert r.status_code == 403
    assert r.reason == ("Permission check failed (URI '/access/ticket' not available with API token, "
                        "need proper ticket.)")


def test_upid_format_and_status_fields(prox, sim):
    upid = prox.nodes("pve").qemu(9000).clone.post(newid=100, name="web-01", full=1)
    assert UPID_RE.match(upid) and upid.endswith(":")
    decoded = Tasks.decode_upid(upid)
    assert decoded["type"] == "qmclone" and decoded["id"] == "9000" and decoded["user"] == "root@pam"
    assert upid.split(":")[7] == "root@pam!portal"
    status = wait_ok(prox, upid)
    assert status["user"] == "root@pam" and status["tokenid"] == "portal"
    assert "endtime" not in status
    assert set(status) >= {"upid", "node", "pid", "pstart", "starttime", "type", "id", "user", "status"}
    log = prox.nodes("pve").tasks(upid).log.get()
    assert log[-1]["t"] == "TASK OK" and log[0]["n"] == 1


def test_upid_percent_encoded_in_path(prox, raw):
    upid = prox.nodes("pve").qemu(9000).clone.post(newid=100, full=1)
    wait_ok(prox, upid)
    r = raw("GET", f"/nodes/pve/tasks/{quote(upid, safe='')}/status")
    assert r.status_code == 200 and r.json()["data"]["upid"] == upid
    r = raw("GET", f"/nodes/pve/tasks/{upid}/log", params={"start": 0, "limit": 50})
    assert r.json()["total"] == len(r.json()["data"])


def test_bad_and_unknown_upid(raw):
    r = raw("GET", "/nodes/pve/tasks/UPID:nonsense/status")
    assert r.status_code == 400 and r.json()["errors"] == {"upid": "unable to parse worker upid"}
    r = raw("GET", "/nodes/pve/tasks/UPID:pve:00001234:00001234:5F000000:qmstart:100:root@pam:/status")
    assert r.status_code == 400 and r.json()["errors"] == {"upid": "no such task"}


def test_task_lists(prox):
    upid = prox.nodes("pve").qemu(9000).clone.post(newid=100, full=1)
    wait_ok(prox, upid)
    tasks = prox.nodes("pve").tasks.get()
    entry = next(t for t in tasks if t["upid"] == upid)
    assert entry["status"] == "OK" and "endtime" in entry and entry["user"] == "root@pam!portal"
    assert any(t["upid"] == upid for t in prox.cluster.tasks.get())


def test_task_goes_through_running(sim, prox):
    sim.set_time_scale(1.0)
    upid = prox.nodes("pve").qemu(9000).clone.post(newid=100, full=1)
    assert prox.nodes("pve").tasks(upid).status.get()["status"] == "running"
    sim.set_time_scale(0)
    wait_ok(prox, upid)


def test_json_body_accepts_json_booleans(raw):
    r = raw("POST", "/nodes/pve/qemu/9000/clone", json={"newid": 100, "full": True})
    assert r.status_code == 200 and r.json()["data"].startswith("UPID:")
