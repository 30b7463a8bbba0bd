"""The console websocket end to end, without a browser: the portal under uvicorn, pvesim, PostgreSQL, Redis.

A test client gets the page's ticket; a websocket client then speaks to the portal exactly as
static/js/console.js does (ticket first, bytes after "ready", close codes at the end).
"""

import json
import logging
import struct
import time

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from portal.consoles import codes
from provisioning import actions
from provisioning.models import ConsoleSession, Operation, Server
from provisioning.proxmox import PVE
from tenants.models import AuditEvent, Membership, Role
from tests.conftest import make_user
from tests.console_world import asgi_server, running_server  # noqa: F401
from tests.provisioning.conftest import cluster, pve, sim  # noqa: F401

pytestmark = pytest.mark.usefixtures("asgi_server")


@pytest.fixture
def ct_server(cluster, tenant_a):  # noqa: F811
    return running_server(cluster, tenant_a, kind=Server.Kind.LXC, hostname="files", vmid=200, ipv4="192.0.2.10")


@pytest.fixture
def vm_server(cluster, tenant_a):  # noqa: F811
    return running_server(cluster, tenant_a, kind=Server.Kind.QEMU, hostname="web-01", vmid=100, ipv4="192.0.2.20")


def ticket(client, server, kind):
    response = client.post(reverse("consoles:ticket", args=[server.public_id]), {"kind": kind})
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    return response.json()


class Page:
    """The console page's side of the websocket."""

    def __init__(self, server_url, client, data, *, ticket=None):
        self.ws = connect(f"ws://127.0.0.1:{server_url.rsplit(':', 1)[1]}{data['websocket']}", origin=server_url,
                          additional_headers={"Cookie": f"sessionid={client.cookies['sessionid'].value}"},
                          open_timeout=10).__enter__()
        self.received = []
        self.ws.send(json.dumps({"ticket": ticket or data["ticket"]}))

    def recv(self, timeout=10):
        message = self.ws.recv(timeout=timeout)
        self.received.append(message)
        return message

    def ready(self):
        assert json.loads(self.recv()) == {"type": "ready"}
        return self

    def read_until(self, text, timeout=10):
        out, deadline = b"", time.monotonic() + timeout
        while text.encode() not in out:
            out += self.recv(timeout=max(0.01, deadline - time.monotonic()))
        return out.decode()

    def type(self, text):
        self.ws.send(text.encode())

    def closed_with(self, timeout=10):
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self.recv(timeout=max(0.01, deadline - time.monotonic()))
        except ConnectionClosed:
            return self.ws.close_code
        raise AssertionError("the portal did not close the console")

    def close(self):
        self.ws.close()


def open_console(asgi_server, client, server, kind):  # noqa: F811
    return Page(asgi_server.url, client, ticket(client, server, kind))


def log_in(page, user="root"):
    page.read_until("login: ")
    page.type(f"{user}\r")
    page.read_until("Password: ")
    page.type("secret\r")
    return page.read_until("# " if user == "root" else "$ ")


def wait_for(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_a_member_types_into_a_container_terminal_and_the_opening_is_recorded(asgi_server, bob_client, bob, ct_server, pve):  # noqa: F811
    page = open_console(asgi_server, bob_client, ct_server, "terminal").ready()
    log_in(page)
    page.type("hostname\r")
    assert "\r\nfiles\r\n" in page.read_until("root@files:~# ")
    page.type("ip a\r")
    assert "inet 192.0.2.10/24" in page.read_until("root@files:~# ")
    session = ConsoleSession.objects.get()
    assert (session.user, session.server, session.state, session.ip_address) == (bob, ct_server, "open", "127.0.0.1")
    event = AuditEvent.objects.get(action="server.console_open")
    assert (event.actor, event.ip, event.object_id, event.details["kind"]) == (bob, "127.0.0.1", str(ct_server.public_id), "terminal")
    page.close()
    # Closing the window ends the session here and on Proxmox.
    wait_for(lambda: ConsoleSession.objects.filter(state="closed", end="browser").exists())
    wait_for(lambda: pve.consoles()["open"] == [])


def test_a_ticket_opens_one_console_only(asgi_server, bob_client, ct_server):  # noqa: F811
    data = ticket(bob_client, ct_server, "terminal")
    first = Page(asgi_server.url, bob_client, data).ready()
    assert Page(asgi_server.url, bob_client, data).closed_with() == codes.TICKET
    first.close()


def test_an_expired_ticket_is_refused(asgi_server, bob_client, ct_server, settings):  # noqa: F811
    settings.CONSOLE_TICKET_SECONDS = 0
    assert open_console(asgi_server, bob_client, ct_server, "terminal").closed_with() == codes.TICKET


def test_a_ticket_is_bound_to_the_user_it_was_given_to(asgi_server, bob_client, alice_client, ct_server):  # noqa: F811
    data = ticket(bob_client, ct_server, "terminal")
    assert Page(asgi_server.url, alice_client, data).closed_with() == codes.TICKET
    assert ConsoleSession.objects.get().state == "issued"  # still bob's to use


def test_viewers_and_other_tenants_get_a_404(ct_server, bob, bob_client, charlie_client):  # noqa: F811
    page_url = reverse("consoles:console", args=[ct_server.public_id])
    ticket_url = reverse("consoles:ticket", args=[ct_server.public_id])
    assert charlie_client.get(page_url).status_code == 404
    assert charlie_client.post(ticket_url, {"kind": "terminal"}).status_code == 404
    Membership.objects.filter(user=bob).update(role=Role.VIEWER)
    assert bob_client.get(page_url).status_code == 404
    assert bob_client.post(ticket_url, {"kind": "terminal"}).status_code == 404
    assert not ConsoleSession.objects.exists()


def test_servers_that_do_not_run_get_their_reason_and_a_stopped_one_a_start_button(bob_client, ct_server):  # noqa: F811
    ticket_url = reverse("consoles:ticket", args=[ct_server.public_id])
    for status, code, words in (("stopped", 4409, "stopped"), ("building", 4411, "being built"),
                                ("unavailable", 4503, "cannot be reached")):
        Server.objects.filter(pk=ct_server.pk).update(status=status)
        response = bob_client.post(ticket_url, {"kind": "terminal"})
        assert response.status_code == 409 and response.json()["code"] == code and words in response.json()["message"]
        page = bob_client.get(reverse("consoles:console", args=[ct_server.public_id])).content.decode()
        assert words in page and ("Start the server" in page) == (status == "stopped")
    assert bob_client.post(ticket_url, {"kind": "vnc"}).status_code == 409  # containers have no VNC console here
    # Once a start is on its way, the window says so and waits instead of offering the button again.
    Server.objects.filter(pk=ct_server.pk).update(status="stopped")
    Operation.objects.create(tenant=ct_server.tenant, server=ct_server, kind="start")
    page = bob_client.get(reverse("consoles:console", args=[ct_server.public_id])).content.decode()
    assert "being started" in page and "Start the server" not in page and 'http-equiv="refresh"' in page


def test_a_guest_stopped_behind_the_portals_back_is_reported_as_stopped(asgi_server, bob_client, ct_server, cluster):  # noqa: F811
    PVE(cluster).power(node="pve", kind="lxc", vmid=200, action="stop")
    wait_for(lambda: PVE(cluster).guest_status("pve", "lxc", 200)["status"] == "stopped")
    assert open_console(asgi_server, bob_client, ct_server, "terminal").closed_with() == codes.REFUSAL["stopped"]
    wait_for(lambda: ConsoleSession.objects.get().end == "failed")


def test_the_serial_console_of_a_vm_without_a_serial_port_explains_itself(asgi_server, bob_client, vm_server, cluster):  # noqa: F811
    PVE(cluster).configure_vm(node="pve", vmid=100, delete="serial0,vga")
    assert open_console(asgi_server, bob_client, vm_server, "serial").closed_with() == codes.NO_SERIAL


def test_the_serial_console_of_a_vm_is_a_terminal(asgi_server, bob_client, vm_server):  # noqa: F811
    page = open_console(asgi_server, bob_client, vm_server, "serial").ready()
    assert "Debian GNU/Linux 12 web-01 ttyS0" in page.read_until("login: ")
    page.type("debian\r")
    page.read_until("Password: ")
    page.type("secret\r")
    assert "debian@web-01:~$ " in page.read_until("$ ")
    page.close()


def test_proxmox_refusing_the_ticket_is_said_plainly(asgi_server, bob_client, ct_server, pve):  # noqa: F811
    pve.add_fault(method="GET", path=r"vncwebsocket$", status=500, reason="permission denied - invalid vnc ticket")
    assert open_console(asgi_server, bob_client, ct_server, "terminal").closed_with() == codes.PROXMOX_REFUSED


def test_a_node_that_is_down_is_named_as_the_reason(asgi_server, bob_client, ct_server, pve):  # noqa: F811
    pve.fail_node("pve")
    assert open_console(asgi_server, bob_client, ct_server, "terminal").closed_with() == codes.NODE_DOWN


def test_a_dropped_upstream_closes_the_console_cleanly_and_it_opens_again(asgi_server, bob_client, ct_server, pve):  # noqa: F811
    page = open_console(asgi_server, bob_client, ct_server, "terminal").ready()
    page.read_until("login: ")
    assert pve.drop_consoles() == 1
    assert page.closed_with() == codes.UPSTREAM_CLOSED
    wait_for(lambda: ConsoleSession.objects.filter(end="upstream").exists())
    again = open_console(asgi_server, bob_client, ct_server, "terminal").ready()
    assert "files login: " in again.read_until("login: ")
    again.close()


def test_staff_see_open_sessions_and_end_them(asgi_server, bob_client, ct_server):  # noqa: F811
    page = open_console(asgi_server, bob_client, ct_server, "terminal").ready()
    page.read_until("login: ")
    staff = make_user("dora@jiku.example", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=["view_consolesession", "change_consolesession"]))
    client = Client()
    client.force_login(staff)
    listing = client.get(reverse("staff:consoles")).content.decode()
    session = ConsoleSession.objects.get()
    assert "files" in listing and "bob@example.com" in listing and str(session.public_id) in listing
    response = client.post(reverse("staff:console_end", args=[session.public_id]))
    assert response.status_code == 302
    assert page.closed_with() == codes.STAFF
    session.refresh_from_db()
    assert (session.state, session.end, session.ended_by) == ("closed", "staff", staff)
    assert AuditEvent.objects.filter(action="server.console_end", actor=staff).exists()


def test_customers_cannot_end_sessions_from_the_staff_pages(bob_client, ct_server, bob):  # noqa: F811
    session, _ticket = actions.console_open(server=ct_server, user=bob, kind="terminal")
    assert bob_client.get(reverse("staff:consoles")).status_code in (403, 404)
    assert bob_client.post(reverse("staff:console_end", args=[session.public_id])).status_code in (403, 404)
    assert ConsoleSession.objects.get().state == "issued"
    with pytest.raises(Exception):  # noqa: B017 - PermissionDenied from the action itself
        actions.console_end(session=session, user=bob)


def test_losing_the_membership_ends_an_open_console(asgi_server, bob_client, bob, ct_server, settings):  # noqa: F811
    settings.CONSOLE_RECHECK_SECONDS = 0.2
    page = open_console(asgi_server, bob_client, ct_server, "terminal").ready()
    page.read_until("login: ")
    Membership.objects.filter(user=bob).delete()
    assert page.closed_with() == codes.ACCESS
    wait_for(lambda: ConsoleSession.objects.filter(end="access").exists())


def test_a_user_has_only_so_many_consoles_open(bob_client, ct_server, settings):  # noqa: F811
    settings.CONSOLE_MAX_OPEN_PER_USER = 2
    ticket(bob_client, ct_server, "terminal")
    ticket(bob_client, ct_server, "terminal")
    response = bob_client.post(reverse("consoles:ticket", args=[ct_server.public_id]), {"kind": "terminal"})
    assert response.status_code == 409 and response.json()["code"] == codes.REFUSAL["too_many"]


def test_the_vnc_console_authenticates_with_proxmox_and_offers_the_browser_no_password(asgi_server, bob_client, vm_server):  # noqa: F811
    page = open_console(asgi_server, bob_client, vm_server, "vnc").ready()
    assert page.recv() == b"RFB 003.008\n"
    page.ws.send(b"RFB 003.008\n")
    assert page.recv() == b"\x01\x01"  # security type None: the portal did VNC Authentication itself
    page.ws.send(b"\x01")
    assert page.recv() == b"\x00\x00\x00\x00"
    page.ws.send(b"\x01")  # ClientInit
    init = page.recv()
    assert struct.unpack("!HH", init[:4]) == (960, 450) and init.endswith(b"web-01")
    page.close()


def test_the_proxmox_token_and_console_credentials_never_reach_the_browser_or_the_logs(
        asgi_server, bob_client, ct_server, vm_server, cluster, caplog):  # noqa: F811
    with caplog.at_level(logging.DEBUG):
        pages = []
        for server, kind in ((ct_server, "terminal"), (vm_server, "vnc"), (vm_server, "serial")):
            html = bob_client.get(reverse("consoles:console", args=[server.public_id]) + f"?kind={kind}").content
            page = open_console(asgi_server, bob_client, server, kind).ready()
            page.recv()
            pages.append((html, page))
        for _html, page in pages:
            page.close()
        wait_for(lambda: not ConsoleSession.objects.exclude(state="closed").exists())
    secret = cluster.token_secret
    seen = b"".join(html + b"".join(m if isinstance(m, bytes) else m.encode() for m in page.received)
                    for html, page in pages)
    assert secret.encode() not in seen and b"PVEAPIToken" not in seen and b"PVEVNC:" not in seen
    assert secret not in caplog.text and "PVEVNC:" not in caplog.text
