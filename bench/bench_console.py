"""The web console: click-to-first-byte in Chromium, and idle terminals held by one ASGI worker.

One uvicorn process (one worker) serves the portal against the bench's PostgreSQL and Redis;
pvesim runs in this process. Chromium clicks Console on the server page and waits until the
guest's text is on screen (terminal: xterm's rows; VNC: lit pixels on noVNC's canvas). Then
plain websocket clients open terminals in batches, as the page does, and the worker's memory
(VmRSS) is read before and with all of them open.
"""

import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from websockets.asyncio.client import connect

from provisioning.models import Cluster, ConsoleSession, Node, Server
from provisioning.proxmox import PVE
from provisioning.reconcile import reconcile_cluster
from pvesim import Simulator
from tenants.models import Membership, Role, Tenant

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
IDLE_TERMINALS = int(os.environ.get("BENCH_CONSOLES", "200"))
BATCH = 20


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_task(pve, upid):
    while pve.task_status("pve", upid)["status"] != "stopped":
        time.sleep(0.02)


def _guests(cluster, tenant):
    pve = PVE(cluster)
    _wait_task(pve, pve.create_ct(node="pve", vmid=200, ostemplate="local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst",
                                  hostname="files", cores=1, memory=512, rootfs="local-lvm:4", password=None, ssh_keys=None,
                                  net0="name=eth0,bridge=vmbr0,ip=192.0.2.10/24,gw=192.0.2.1"))
    _wait_task(pve, pve.clone_vm(node="pve", template_vmid=9000, newid=100, name="web-01", target="pve", storage="local-lvm"))
    for kind, vmid in (("lxc", 200), ("qemu", 100)):
        _wait_task(pve, pve.power(node="pve", kind=kind, vmid=vmid, action="start"))
    node = Node.objects.get(cluster=cluster, name="pve")
    common = {"tenant": tenant, "cluster": cluster, "node": node, "cores": 1, "memory_mb": 512, "disk_gb": 4,
              "status": Server.Status.RUNNING}
    return (Server.objects.create(kind="lxc", hostname="files", vmid=200, ipv4="192.0.2.10", **common),
            Server.objects.create(kind="qemu", hostname="web-01", vmid=100, ipv4="192.0.2.20", **common))


def _session_cookie(user):
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


def _rss_kb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _click_to_first_byte(base, email, password, servers, repeats=5):
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    times = {"terminal": [], "vnc": []}
    lit = """() => { const c = document.querySelector('#console-screen canvas'); if (!c || c.width < 100) return false;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 0; i < d.length; i += 4) { if (d[i] > 100) return true; } return false; }"""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_context(base_url=base).new_page()
        page.goto("/accounts/login/")
        page.fill("input[name=login]", email)
        page.fill("input[name=password]", password)
        page.click("main form button[type=submit]")
        page.wait_for_url(re.compile(r"^(?!.*/accounts/login/)"))
        for kind, server in (("terminal", servers[0]), ("vnc", servers[1])):
            for _ in range(repeats + 1):  # the first round warms the caches and is not counted
                page.goto(f"/servers/{server.public_id}/")
                start = time.perf_counter()
                with page.expect_popup() as popup:
                    page.get_by_test_id("console-link").click()
                console = popup.value
                if kind == "terminal":
                    console.wait_for_function("() => (document.querySelector('.xterm-rows') || {}).textContent?.includes('login:')",
                                              polling="raf", timeout=15_000)
                else:
                    console.wait_for_function(lit, polling="raf", timeout=15_000)
                times[kind].append((time.perf_counter() - start) * 1000)
                console.close()
            times[kind] = times[kind][1:]
        browser.close()
    return {kind: {"median_ms": round(statistics.median(v)), "max_ms": round(max(v)), "repeats": len(v)}
            for kind, v in times.items()}


async def _open_terminals(base, cookie, csrf, server, count):
    http = requests.Session()
    http.cookies.update({"sessionid": cookie, "csrftoken": csrf})
    ws_base = base.replace("http://", "ws://")
    sockets, started = [], time.perf_counter()

    async def one():
        data = (await asyncio.to_thread(http.post, f"{base}/servers/{server.public_id}/console/ticket/",
                                        data={"kind": "terminal"}, headers={"X-CSRFToken": csrf})).json()
        ws = await connect(ws_base + data["websocket"], origin=base, additional_headers={
            "Cookie": f"sessionid={cookie}; csrftoken={csrf}"}, open_timeout=30)
        await ws.send(json.dumps({"ticket": data["ticket"]}))
        assert json.loads(await ws.recv()) == {"type": "ready"}
        out = b""
        while b"login: " not in out:
            out += await ws.recv()
        return ws

    for start in range(0, count, BATCH):
        sockets += await asyncio.gather(*(one() for _ in range(min(BATCH, count - start))))
    opened_s = time.perf_counter() - started
    await asyncio.sleep(10)  # idle, with the consumers' periodic checks running
    # Still alive: every console answers a keystroke (the login prompt echoes it).
    for ws in sockets:
        await ws.send(b"x")
    alive = 0
    for ws in sockets:
        try:
            if b"x" in await asyncio.wait_for(ws.recv(), 10):
                alive += 1
        except Exception:  # noqa: BLE001 - counted as not alive
            pass
    return sockets, opened_s, alive


def bench_console():
    user_model = get_user_model()
    ConsoleSession.objects.all().delete()
    Server.objects.all().delete()
    Cluster.objects.filter(name="Console bench").delete()
    Tenant.objects.filter(slug="console-bench").delete()
    user_model.objects.filter(email="console-bench@example.com").delete()
    password = "console-bench-password-1"
    user = user_model.objects.create_user(username="console-bench", email="console-bench@example.com", password=password)
    from allauth.account.models import EmailAddress

    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    tenant = Tenant.objects.create(name="Console bench", slug="console-bench")
    Membership.objects.create(tenant=tenant, user=user, role=Role.MEMBER)
    with Simulator(scenario="demo", time_scale=0.0, schema_path=os.environ.get("PVESIM_SCHEMA")) as sim:
        cluster = Cluster(name="Console bench", api_url=f"127.0.0.1:{sim.port}", token_id=sim.token_id,
                          ca_cert=Path(sim.ca_cert_path).read_text())
        cluster.token_secret = sim.token_secret
        cluster.save()
        reconcile_cluster(cluster)
        servers = _guests(cluster, tenant)
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        env = {**os.environ, "CONSOLE_MAX_OPEN_PER_USER": str(IDLE_TERMINALS + 50)}
        worker = subprocess.Popen([sys.executable, "-m", "uvicorn", "portal.asgi:application", "--port", str(port),
                                   "--ws", "websockets-sansio", "--lifespan", "off", "--log-level", "warning"],
                                  cwd=ROOT, env=env)
        try:
            for _ in range(200):
                try:
                    requests.get(f"{base}/healthz", timeout=1)
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
            figures = {"click_to_first_byte": _click_to_first_byte(base, user.email, password, servers)}
            ConsoleSession.objects.all().delete()
            cookie, csrf = _session_cookie(user), "b" * 32
            requests.get(f"{base}/healthz", timeout=5)
            rss_before = _rss_kb(worker.pid)

            async def hold():
                sockets, opened_s, alive = await _open_terminals(base, cookie, csrf, servers[0], IDLE_TERMINALS)
                rss_with = _rss_kb(worker.pid)
                for ws in sockets:
                    await ws.close()
                return opened_s, alive, rss_with

            opened_s, alive, rss_with = asyncio.run(hold())
            figures["idle_terminals"] = {
                "opened": IDLE_TERMINALS, "alive_after_10s_idle": alive, "seconds_to_open_all": round(opened_s, 1),
                "worker_rss_mb_before": round(rss_before / 1024, 1), "worker_rss_mb_with_all": round(rss_with / 1024, 1),
                "kb_per_console": round((rss_with - rss_before) / max(1, IDLE_TERMINALS)),
            }
        finally:
            worker.terminate()
            worker.wait(15)
    return figures
