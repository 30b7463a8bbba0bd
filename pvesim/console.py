"""Consoles: vncproxy / termproxy listeners and the vncwebsocket behind them (FACTS.md section 10).

As in Proxmox:
- `vncproxy` / `termproxy` start a `vncproxy` task whose listener on the node's next free port
  (5900-5999) waits 10 real seconds for one connection; unused, the task ends with `connection
  timed out`. A connected console keeps its task running until the connection ends.
- The ticket is `PVEVNC:<hex time>::<signature>`, bound to the token user and `/vms/<vmid>`, and
  valid from 20 s before to 40 s after it was made. `vncwebsocket` answers 500 `permission denied
  - invalid vnc ticket` otherwise. A ticket whose listener was already used (or timed out) passes
  that check, but nothing listens on its port any more, so the connection is dropped without an
  answer, as pveproxy's websocket proxy does when it cannot connect.
- termproxy: the client sends `<user>:<ticket>\\n`, the listener answers `OK`, then input frames
  `0:<len>:<data>`, resize `1:<cols>:<rows>:` and ping `2`; output is the raw terminal bytes.
- vncproxy: an RFB server (pvesim/rfb.py) with VNC Authentication, password from
  `generate-password=1` or the ticket's first 8 characters.
Listener timeouts and the ticket window are real seconds; the time scale does not apply.
"""

import hmac
import re
import threading
import time

from .errors import ApiError, TaskError, die
from .guestcommon import both, get_guest
from .guestshell import GuestInfo, GuestShell
from .rfb import RfbSession
from .routes_agent import _addresses, _mac, _nets
from .state import TaskAborted
from .tasks import start_task
from .websocket import Closed

LISTEN_SECONDS = 10.0
TICKET_WINDOW = (-20, 40)
PORTS = range(5900, 6000)


class Listener:
    def __init__(self, *, node, port, vmid, kind, mode, user, ticket, password):
        self.node, self.port, self.vmid, self.kind = node, port, vmid, kind
        self.mode = mode  # "vnc" or "term"
        self.user, self.ticket, self.password = user, ticket, password
        self.state = "listening"
        self.connected = threading.Event()
        self.done = threading.Event()
        self.conn = None


class Consoles:
    """Every listener and open console of the simulated cluster."""

    def __init__(self):
        self.lock = threading.Lock()
        self.listeners = {}  # (node, port) -> Listener waiting for its connection
        self.open = set()

    def listen(self, **kw):
        with self.lock:
            busy = {port for (node, port) in self.listeners if node == kw["node"]}
            port = next((p for p in PORTS if p not in busy), None)
            if port is None:
                raise die("unable to find free port (5900-5999)")
            listener = Listener(port=port, **kw)
            self.listeners[(kw["node"], port)] = listener
            return listener

    def take(self, node, port):
        """The one connection a listener accepts; None when nothing listens there (any more)."""
        with self.lock:
            listener = self.listeners.pop((node, int(port)), None)
            if listener is None or listener.state != "listening":
                return None
            listener.state = "connected"
            self.open.add(listener)
        listener.connected.set()
        return listener

    def expire(self, listener):
        with self.lock:
            if self.listeners.get((listener.node, listener.port)) is listener:
                del self.listeners[(listener.node, listener.port)]
                listener.state = "timed out"
                return True
            return False

    def finished(self, listener):
        with self.lock:
            self.open.discard(listener)
            listener.state = "closed"
        listener.done.set()

    def drop(self, vmid=None):
        """Cut open consoles (all, or one guest's) as a lost connection would; returns how many."""
        with self.lock:
            victims = [c for c in self.open if vmid is None or c.vmid == int(vmid)]
        for listener in victims:
            if listener.conn is not None:
                listener.conn.close()
        return len(victims)

    def reset(self):
        self.drop()
        with self.lock:
            for listener in self.listeners.values():
                listener.state = "closed"
                listener.done.set()
            self.listeners.clear()

    def summary(self):
        with self.lock:
            return {"listening": [{"node": n, "port": p, "vmid": lst.vmid} for (n, p), lst in self.listeners.items()],
                    "open": sorted(({"node": c.node, "port": c.port, "vmid": c.vmid, "mode": c.mode}
                                    for c in self.open), key=lambda c: (c["node"], c["port"]))}


# -- tickets ------------------------------------------------------------------------------
def make_ticket(auth, user, vmid):
    stamp = f"{int(time.time()):08X}"
    return f"PVEVNC:{stamp}::{auth._sign(f'PVEVNC:{stamp}:{user}:/vms/{vmid}')}"


def ticket_valid(auth, ticket, user, vmid):
    m = re.match(r"^(PVEVNC:([0-9A-F]{8}))::(\S+)$", ticket or "")
    if not m or not hmac.compare_digest(auth._sign(f"{m.group(1)}:{user}:/vms/{vmid}"), m.group(3)):
        return False
    age = time.time() - int(m.group(2), 16)
    return TICKET_WINDOW[0] < age < TICKET_WINDOW[1]


def _token_user(req):
    return req.auth_user + (f"!{req.auth_token}" if req.auth_token else "")


# -- the API ------------------------------------------------------------------------------
def _console(req, mode):
    st = req.state
    with st.lock:
        guest = get_guest(req)
    kind = guest.type
    user = _token_user(req)
    ticket = make_ticket(req.core.auth, user, guest.vmid)
    password = None
    if mode == "vnc" and str(req.p("generate-password", "0")) == "1":
        # printable ASCII '!'..'~', 8 characters, as qemu-server generates it
        password = "".join(chr(33 + b % 94) for b in req.core.auth._sign(ticket).encode()[:8])
    listener = req.core.consoles.listen(node=req.p("node"), vmid=guest.vmid, kind=kind, mode=mode, user=user,
                                        ticket=ticket, password=password or ticket[:8])

    def body(ctx):
        timeout = getattr(req.core, "console_listen_seconds", LISTEN_SECONDS)
        deadline = time.monotonic() + timeout
        while not listener.connected.wait(0.05):
            if ctx.state.aborted.is_set():
                raise TaskAborted()
            if time.monotonic() > deadline and req.core.consoles.expire(listener):
                raise TaskError("connection timed out")
        while not listener.done.wait(0.1):
            if ctx.state.aborted.is_set():
                raise TaskAborted()

    upid = start_task(req.core, req, req.p("node"), "vncproxy", guest.vmid, body)
    out = {"port": str(listener.port), "ticket": ticket, "user": user, "upid": upid}
    if mode == "vnc" and kind == "qemu":
        out["cert"] = ""
        if req.core.cert_path:
            with open(req.core.cert_path, encoding="utf-8") as fh:
                out["cert"] = fh.read()
        if password:
            out["password"] = password
    return out


@both("POST", "/{vmid}/vncproxy")
def vncproxy(req):
    return _console(req, "vnc")


@both("POST", "/{vmid}/termproxy")
def termproxy(req):
    return _console(req, "term")


@both("GET", "/{vmid}/vncwebsocket")
def vncwebsocket(req):
    with req.state.lock:
        guest = get_guest(req)
    if not ticket_valid(req.core.auth, str(req.p("vncticket", "")), _token_user(req), guest.vmid):
        raise ApiError(500, "permission denied - invalid vnc ticket")
    return {"port": str(req.p("port"))}


# -- the connection after the upgrade ----------------------------------------------------------
def guest_info(state, node, vmid, tty):
    with state.lock:
        guest = state.guest(node, vmid)
        nets = list(_nets(guest))
        index, value = nets[0] if nets else (0, "")
        ip, prefix = _addresses(guest, index)
        os_hint = str(guest.config.get("ostype", "")) if guest.type == "lxc" else str(guest.config.get("ciuser", ""))
        return GuestInfo(vmid=guest.vmid, kind=guest.type, hostname=guest.name, ip=ip, prefix=prefix,
                         mac=_mac(guest, value) if value else "bc:24:11:00:00:00",
                         os=os_hint if os_hint in ("debian", "ubuntu", "almalinux", "alpine", "centos") else "debian",
                         started_at=guest.started_at, tty=tty), guest.status, dict(guest.config)


def serve(core, listener, conn):
    """Run the console until either side ends it (in the connection's own thread)."""
    listener.conn = conn
    try:
        tty = "tty1" if listener.kind == "lxc" else "ttyS0"
        try:
            info, status, config = guest_info(core.state, listener.node, listener.vmid, tty)
        except ApiError:
            return
        if status != "running":
            return  # lxc-console / qm vncproxy fail at once on a stopped guest: the line just closes
        if listener.mode == "vnc":
            shell = GuestShell(info, greet_with_boot=True)
            RfbSession(conn, shell, name=info.hostname, password=listener.password).run()
        else:
            _terminal(conn, listener, info, config)
    except Closed:
        pass
    finally:
        conn.close()
        core.consoles.finished(listener)


def _terminal(conn, listener, info, config):
    buf = b""
    while b"\n" not in buf:
        buf += conn.recv()
        if len(buf) > 4096:
            return
    line, buf = buf.split(b"\n", 1)
    if line.decode("utf-8", "replace") != f"{listener.user}:{listener.ticket}":
        return  # termproxy closes without a word when the ticket does not check out
    conn.send(b"OK")
    if listener.kind == "qemu" and not any(str(config.get(f"serial{i}", "")) == "socket" for i in range(4)):
        conn.send(b"unable to find a serial interface\r\n")
        return
    shell = GuestShell(info)
    conn.send(shell.greeting.encode())
    while True:
        while True:
            message, buf = _termproxy_message(buf)
            if message is None:
                break
            if message[0] == "0":
                out = shell.feed(message[1].decode("utf-8", "replace"))
                if out:
                    conn.send(out.encode())
        buf += conn.recv()


def _termproxy_message(buf):
    """Split one client message off the stream: ("0", data), ("1", b""), ("2", b"") or (None, buf)."""
    if not buf:
        return None, buf
    if buf[:1] == b"2":
        return ("2", b""), buf[1:]
    if buf[:1] == b"1":
        m = re.match(rb"^1:(\d+):(\d+):", buf)
        if not m:
            return (None, buf) if len(buf) < 32 else (("1", b""), b"")
        return ("1", b""), buf[m.end():]
    if buf[:1] == b"0":
        m = re.match(rb"^0:(\d+):", buf)
        if not m:
            return (None, buf) if len(buf) < 32 else (("0", b""), b"")
        length = int(m.group(1))
        if len(buf) < m.end() + length:
            return None, buf
        return ("0", buf[m.end():m.end() + length]), buf[m.end() + length:]
    return (None, b"")  # garbage: termproxy drops what it cannot parse
