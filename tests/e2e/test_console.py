"""The web console in Chromium: the portal under uvicorn (ASGI), pvesim behind it, no mocks.

A member opens a container's terminal and a VM's graphical console from the server page; a
viewer and another tenant get 404; the Proxmox token shows up nowhere the browser can see.
"""

import logging
import re
import time

import pytest
from playwright.sync_api import expect

from provisioning.models import ConsoleSession, Server
from tenants.models import Membership, Role
from tests.conftest import PASSWORD
from tests.console_world import asgi_server, running_server  # noqa: F401
from tests.provisioning.conftest import cluster, pve, sim  # noqa: F401

from .conftest import screenshot

pytestmark = [pytest.mark.e2e]


@pytest.fixture
def site(browser, asgi_server):  # noqa: F811
    """A fresh browser context on the ASGI server, German unless a test says otherwise."""
    contexts = []

    def open_site(locale="en-GB"):
        context = browser.new_context(base_url=asgi_server.url, locale=locale, viewport={"width": 1280, "height": 860})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield open_site
    for context in contexts:
        context.close()


@pytest.fixture
def servers(cluster, tenant_a):  # noqa: F811
    return {
        "ct": running_server(cluster, tenant_a, kind=Server.Kind.LXC, hostname="files", vmid=200, ipv4="192.0.2.10"),
        "vm": running_server(cluster, tenant_a, kind=Server.Kind.QEMU, hostname="web-01", vmid=100, ipv4="192.0.2.20"),
    }


def log_in(page, email):
    page.goto("/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))


def open_console(page, server):
    page.goto(f"/servers/{server.public_id}/")
    with page.expect_popup() as popup:
        page.get_by_test_id("console-link").click()
    console = popup.value
    expect(console.locator("#console[data-connected='1']")).to_be_attached()
    return console


def terminal_text(console):
    return console.locator(".xterm-rows").inner_text()


def type_line(console, text):
    console.keyboard.type(text)
    console.keyboard.press("Enter")


def test_a_member_types_hostname_into_a_container_terminal_and_reads_it(site, servers, bob):
    page = site()
    log_in(page, bob.email)
    console = open_console(page, servers["ct"])
    expect(console.locator(".xterm-rows")).to_contain_text("files login:")
    console.locator(".xterm").click()
    type_line(console, "root")
    expect(console.locator(".xterm-rows")).to_contain_text("Password:")
    type_line(console, "secret")
    expect(console.locator(".xterm-rows")).to_contain_text("root@files:~#")
    type_line(console, "hostname")
    # xterm.js draws one element per row: the answer is a row of its own.
    expect(console.locator(".xterm-rows > div", has_text=re.compile(r"^\s*files\s*$"))).to_have_count(1)
    type_line(console, "ip a")
    expect(console.locator(".xterm-rows")).to_contain_text("inet 192.0.2.10/24")
    screenshot(console, "console-terminal")
    # Closing the window ends the session.
    console.close()
    deadline = time.monotonic() + 10
    while ConsoleSession.objects.exclude(state="closed").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ConsoleSession.objects.get().end == "browser"


def lit_pixels(console):
    """How many pixels of noVNC's canvas are not black (the guest's text)."""
    return console.evaluate("""() => {
        const c = document.querySelector('#console-screen canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 0; i < d.length; i += 4) { if (d[i] + d[i + 1] + d[i + 2] > 200) n++; }
        return n; }""")


def test_a_member_sees_the_vm_screen_in_the_graphical_console_and_logs_in(site, servers, bob):
    page = site(locale="de-DE")
    log_in(page, bob.email)
    page.goto(f"/servers/{servers['vm'].public_id}/")
    with page.expect_popup() as popup:
        page.get_by_test_id("console-link").click()
    console = popup.value
    expect(console.locator("h1")).to_have_text("Konsole von web-01")
    expect(console.locator("#console[data-connected='1']")).to_be_attached()
    console.wait_for_function("() => { const c = document.querySelector('#console-screen canvas'); return c && c.width === 960; }")
    console.wait_for_timeout(300)
    before = lit_pixels(console)
    assert before > 2000  # the boot messages and the login prompt
    console.locator("#console-screen canvas").click()
    console.keyboard.type("root\n")
    console.wait_for_timeout(200)
    console.keyboard.type("pw\n")
    console.wait_for_timeout(200)
    console.keyboard.type("ip a\n")
    console.wait_for_function("() => true", polling=200)
    deadline = time.monotonic() + 5
    while lit_pixels(console) <= before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert lit_pixels(console) > before  # what was typed and the guest's answer appear
    console.get_by_role("button", name="Strg-Alt-Entf senden").click()
    console.wait_for_timeout(500)
    screenshot(console, "console-vnc-de")
    console.close()


def test_a_viewer_and_another_tenant_cannot_open_either_console(site, servers, bob, charlie, tenant_b):
    Membership.objects.filter(user=bob).update(role=Role.VIEWER)
    for email in (bob.email, charlie.email):
        page = site()
        log_in(page, email)
        for server in servers.values():
            response = page.goto(f"/servers/{server.public_id}/console/")
            assert response.status == 404, (email, server)
            status = page.evaluate("""async (url) => (await fetch(url, {method: 'POST', headers: {'X-CSRFToken':
                JSON.parse(document.body.getAttribute('hx-headers') || '{}')['X-CSRFToken'] || ''},
                body: new URLSearchParams({kind: 'terminal'})})).status""", f"/servers/{server.public_id}/console/ticket/")
            assert status in (403, 404)
        if email == bob.email:
            page.goto(f"/servers/{servers['ct'].public_id}/")
            expect(page.get_by_test_id("console-link")).to_have_count(0)
    assert not ConsoleSession.objects.exists()


def test_the_proxmox_token_never_reaches_the_browser(site, servers, bob, cluster, caplog):  # noqa: F811
    secret = cluster.token_secret
    seen = []
    page = site()
    page.on("console", lambda message: seen.append(message.text))
    with caplog.at_level(logging.DEBUG):
        log_in(page, bob.email)
        page.on("websocket", lambda ws: (ws.on("framereceived", lambda f: seen.append(f if isinstance(f, str) else repr(f))),
                                         ws.on("framesent", lambda f: seen.append(f if isinstance(f, str) else repr(f)))))
        for server, kind in ((servers["ct"], "terminal"), (servers["vm"], "vnc"), (servers["vm"], "serial")):
            page.goto(f"/servers/{server.public_id}/console/?kind={kind}")
            expect(page.locator("#console[data-connected='1']")).to_be_attached()
            page.wait_for_timeout(500)
            seen.append(page.content())
        page.goto("/")
        deadline = time.monotonic() + 10
        while ConsoleSession.objects.exclude(state="closed").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(seen) > 10
    everything = "\n".join(seen)
    assert secret not in everything and "PVEAPIToken" not in everything and "PVEVNC:" not in everything
    assert secret not in caplog.text and "PVEVNC:" not in caplog.text
