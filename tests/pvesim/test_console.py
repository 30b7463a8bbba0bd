"""Consoles in the simulator: termproxy and VNC behind vncwebsocket, tickets, listeners, faults."""

import os
import ssl
import struct
import time
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from websockets.exceptions import InvalidMessage, InvalidStatus
from websockets.sync.client import connect

from pvesim.rfb import HEIGHT, WIDTH, vnc_response
from tests.pvesim.helpers import wait

CT = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"


@pytest.fixture
def ct(prox):
    wait(prox, prox.nodes("pve").lxc.post(vmid=200, hostname="files", rootfs="local-lvm:4", ostemplate=CT,
                                           net0="name=eth0,bridge=vmbr0,ip=192.0.2.10/24,gw=192.0.2.1"))
    wait(prox, prox.nodes("pve").lxc(200).status.start.post())
    return 200


@pytest.fixture
def vm(prox):
    wait(prox, prox.nodes("pve").qemu(9000).clone.post(newid=100, name="web-01", full=1))
    prox.nodes("pve").qemu(100).config.put(ipconfig0="ip=192.0.2.20/24,gw=192.0.2.1")
    wait(prox, prox.nodes("pve").qemu(100).status.start.post())
    return 100


def socket_for(sim, kind, vmid, answer, **kw):
    url = (f"wss://127.0.0.1:{sim.port}/api2/json/nodes/pve/{kind}/{vmid}/vncwebsocket"
           f"?port={answer['port']}&vncticket={quote(answer['ticket'], safe='')}")
    return connect(url, ssl=ssl.create_default_context(cafile=sim.ca_cert_path), subprotocols=kw.pop("protocols", ["binary"]),
                   additional_headers={"Authorization": f"PVEAPIToken={sim.token}"}, open_timeout=5, **kw)


def read_until(ws, text, timeout=5):
    out, deadline = b"", time.monotonic() + timeout
    while text.encode() not in out:
        out += ws.recv(timeout=max(0.01, deadline - time.monotonic()))
    return out.decode()


def typed(ws, text):
    data = text.encode()
    ws.send(b"0:%d:" % len(data) + data)


def test_a_container_terminal_logs_in_and_answers_commands(sim, prox, ct):
    answer = prox.nodes("pve").lxc(ct).termproxy.post()
    assert answer["user"] == sim.token_id and answer["ticket"].startswith("PVEVNC:")
    with socket_for(sim, "lxc", ct, answer) as ws:
        ws.send(f"{answer['user']}:{answer['ticket']}\n")
        assert ws.recv(timeout=5) == b"OK"
        assert read_until(ws, "files login: ")
        typed(ws, "root\r")
        read_until(ws, "Password: ")
        typed(ws, "anything\r")
        read_until(ws, "root@files:~# ")
        ws.send(b"1:120:40:")  # a resize between commands changes nothing
        typed(ws, "hostname\r")
        assert "\r\nfiles\r\n" in read_until(ws, "root@files:~# ")
        typed(ws, "ip a\r")
        assert "inet 192.0.2.10/24 scope global eth0" in read_until(ws, "root@files:~# ")
        typed(ws, "uptime\r")
        assert "load average" in read_until(ws, "root@files:~# ")
        assert sim.consoles()["open"] == [{"node": "pve", "port": int(answer["port"]), "vmid": ct, "mode": "term"}]
    task = prox.nodes("pve").tasks(answer["upid"]).status.get()
    assert task["type"] == "vncproxy"


def test_a_used_ticket_finds_nothing_listening_and_the_connection_just_ends(sim, prox, ct):
    answer = prox.nodes("pve").lxc(ct).termproxy.post()
    with socket_for(sim, "lxc", ct, answer) as ws:
        ws.send(f"{answer['user']}:{answer['ticket']}\n")
        assert ws.recv(timeout=5) == b"OK"
    with pytest.raises(InvalidMessage):
        socket_for(sim, "lxc", ct, answer)


def test_an_expired_ticket_is_refused_like_proxmox(sim, prox, ct, monkeypatch):
    answer = prox.nodes("pve").lxc(ct).termproxy.post()
    later = time.time() + 41
    # Only the console's clock moves on: patching time.time itself moves every clock in this
    # process, the simulator's threads included (a CI run hung in the handshake that way).
    monkeypatch.setattr("pvesim.console.time", SimpleNamespace(time=lambda: later, monotonic=time.monotonic))
    with pytest.raises(InvalidStatus) as refused:
        socket_for(sim, "lxc", ct, answer)
    assert refused.value.response.status_code == 500
    assert refused.value.response.reason_phrase == "permission denied - invalid vnc ticket"


def test_a_wrong_ticket_line_gets_no_ok(sim, prox, ct):
    answer = prox.nodes("pve").lxc(ct).termproxy.post()
    with socket_for(sim, "lxc", ct, answer) as ws:
        ws.send(f"{answer['user']}:PVEVNC:00000000::forged\n")
        with pytest.raises(Exception):  # noqa: B017 - closed without a word, whichever way the library says it
            ws.recv(timeout=5)


def test_the_upgrade_needs_the_binary_protocol(sim, prox, ct):
    answer = prox.nodes("pve").lxc(ct).termproxy.post()
    with pytest.raises(InvalidStatus) as refused:
        socket_for(sim, "lxc", ct, answer, protocols=["chat"])
    assert refused.value.response.status_code == 501


def test_an_unused_listener_times_out(sim, prox, ct):
    sim.core.console_listen_seconds = 0.2
    try:
        answer = prox.nodes("pve").lxc(ct).termproxy.post()
        time.sleep(0.6)
        status = prox.nodes("pve").tasks(answer["upid"]).status.get()
        assert status["status"] == "stopped" and status["exitstatus"] == "connection timed out"
        with pytest.raises(InvalidMessage):
            socket_for(sim, "lxc", ct, answer)
    finally:
        del sim.core.console_listen_seconds


def test_a_vm_without_a_serial_port_says_so_on_its_terminal(sim, prox, vm):
    prox.nodes("pve").qemu(vm).config.put(delete="serial0,vga")
    answer = prox.nodes("pve").qemu(vm).termproxy.post()
    with socket_for(sim, "qemu", vm, answer) as ws:
        ws.send(f"{answer['user']}:{answer['ticket']}\n")
        assert ws.recv(timeout=5) == b"OK"
        assert "unable to find a serial interface" in read_until(ws, "interface")


def rfb_login(ws, password):
    assert ws.recv(timeout=5) == b"RFB 003.008\n"
    ws.send(b"RFB 003.008\n")
    assert ws.recv(timeout=5) == b"\x01\x02"
    ws.send(b"\x02")
    challenge = ws.recv(timeout=5)
    ws.send(vnc_response(password, challenge))
    return ws.recv(timeout=5)


def test_the_vnc_console_shows_the_guest_screen_after_vnc_authentication(sim, prox, vm):
    answer = prox.nodes("pve").qemu(vm).vncproxy.post(websocket=1, **{"generate-password": 1})
    assert len(answer["password"]) == 8 and "BEGIN CERTIFICATE" in answer["cert"]
    with socket_for(sim, "qemu", vm, answer) as ws:
        assert rfb_login(ws, answer["password"]) == b"\x00\x00\x00\x00"
        ws.send(b"\x01")  # ClientInit, shared
        init = ws.recv(timeout=5)
        width, height = struct.unpack("!HH", init[:4])
        assert (width, height) == (WIDTH, HEIGHT) and init.endswith(b"web-01")
        ws.send(struct.pack("!BBHHHH", 3, 0, 0, 0, width, height))  # FramebufferUpdateRequest, not incremental
        update = b""
        while len(update) < 4 or len(update) < 4 + 25 * (12 + width * 18 * 4):
            update += ws.recv(timeout=5)
        assert update[0] == 0 and struct.unpack("!H", update[2:4])[0] == 25
        assert any(b != 0 for b in update[16:])  # text is drawn: some pixels are lit


def test_vnc_authentication_with_a_wrong_password_fails(sim, prox, vm):
    answer = prox.nodes("pve").qemu(vm).vncproxy.post(websocket=1, **{"generate-password": 1})
    with socket_for(sim, "qemu", vm, answer) as ws:
        result = rfb_login(ws, "wrong!!!")
        assert result[:4] == b"\x00\x00\x00\x01" and b"Authentication failed" in result


def test_dropping_consoles_cuts_the_open_ones(sim, prox, ct):
    answer = prox.nodes("pve").lxc(ct).termproxy.post()
    with socket_for(sim, "lxc", ct, answer) as ws:
        ws.send(f"{answer['user']}:{answer['ticket']}\n")
        assert ws.recv(timeout=5) == b"OK"
        read_until(ws, "login: ")
        assert sim.drop_consoles() == 1
        with pytest.raises(Exception):  # noqa: B017 - the line is cut, no close frame
            while True:
                ws.recv(timeout=5)
    deadline = time.monotonic() + 5
    while sim.consoles()["open"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sim.consoles()["open"] == []


@pytest.mark.skipif(not os.environ.get("PVESIM_SCHEMA"), reason="the schema decides the parameter check")
def test_vncwebsocket_parameters_are_checked_against_the_schema(raw, prox, ct):
    response = raw("GET", f"/nodes/pve/lxc/{ct}/vncwebsocket", params={"port": 80, "vncticket": "x"})
    assert response.status_code == 400 and "port" in response.json()["errors"]
