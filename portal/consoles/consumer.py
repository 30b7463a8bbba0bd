"""The browser's console websocket: claims the single-use ticket, then relays to Proxmox.

Protocol with the page (static/js/console.js): the page sends `{"ticket": ...}` first; the
consumer answers `{"type": "ready"}` once Proxmox's console is open, then binary frames carry
the terminal's bytes or RFB both ways, and text frames from the page carry control messages
(`{"resize": [cols, rows]}`). Every ending is a close code from codes.py, which the page shows
as a message in the reader's language. Nothing from Proxmox but the guest's bytes reaches it.
"""

import asyncio
import json
import logging

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.core.exceptions import PermissionDenied

from provisioning.actions import console as rules
from provisioning.models import ConsoleSession
from provisioning.proxmox import PVE, ProxmoxError

from . import codes
from .bridges import Refused, TerminalBridge, VncBridge

log = logging.getLogger(__name__)
TICKET_WAIT_SECONDS = 10


class Unavailable(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


def _prepare(session):
    """Ask Proxmox for the console (blocking REST calls, run in a worker thread)."""
    server = session.server
    pve = PVE(server.cluster)
    node = server.node.name
    try:
        status = pve.guest_status(node, server.kind, server.vmid)
        if status is None:
            raise Unavailable(codes.REFUSAL["gone"])
        if status.get("status") != "running":
            raise Unavailable(codes.REFUSAL["stopped"])
        if session.kind == ConsoleSession.Kind.SERIAL:
            config = pve.guest_config(node=node, kind=server.kind, vmid=server.vmid)
            if not any(str(config.get(f"serial{i}", "")) == "socket" for i in range(4)):
                raise Unavailable(codes.NO_SERIAL)
        console = "vnc" if session.kind == ConsoleSession.Kind.VNC else "term"
        return pve, node, pve.console_ticket(node=node, kind=server.kind, vmid=server.vmid, console=console)
    except ProxmoxError as exc:
        raise Unavailable(_code_for(exc, session)) from None


def _code_for(exc, session):
    log.warning("console %s for %s: Proxmox said: %s", session.public_id, session.server, exc.message)
    unreachable = exc.status == 595 or (exc.status is None and exc.retryable)
    return codes.NODE_DOWN if unreachable else codes.PROXMOX_REFUSED


async def open_bridge(session):
    pve, node, answer = await sync_to_async(_prepare, thread_sensitive=False)(session)
    server = session.server
    try:
        sock = await pve.console_socket(node=node, kind=server.kind, vmid=server.vmid, port=answer["port"],
                                        ticket=answer["ticket"])
    except ProxmoxError as exc:
        raise Unavailable(_code_for(exc, session)) from None
    if session.kind == ConsoleSession.Kind.VNC:
        bridge = VncBridge(sock, password=answer.get("password") or answer["ticket"][:8])
    else:
        bridge = TerminalBridge(sock, user=answer["user"], ticket=answer["ticket"])
    try:
        await bridge.authenticate()
    except (Refused, TimeoutError, ProxmoxError) as exc:
        log.warning("console %s for %s: %s", session.public_id, server, exc)
        await sock.close()
        raise Unavailable(codes.PROXMOX_REFUSED) from None
    return bridge


class ConsoleConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.session = None
        self.bridge = None
        self.end = None
        self.tasks = []
        self.started = False
        await self.accept()
        self.tasks.append(asyncio.create_task(self._guarded(self._ticket_deadline())))

    async def receive(self, text_data=None, bytes_data=None):
        if self.bridge is not None:
            await self.bridge.from_browser(text_data, bytes_data)
        elif not self.started:
            self.started = True
            await self._open(text_data)

    async def _open(self, text):
        try:
            ticket = str(json.loads(text or "{}").get("ticket", ""))
        except (ValueError, AttributeError):
            ticket = ""
        session_id = self.scope["url_route"]["kwargs"]["session_id"]
        try:
            self.session = await database_sync_to_async(rules.console_claim)(
                session_id=session_id, ticket=ticket, user=self.scope.get("user"))
        except rules.TicketInvalid:
            return await self.close(code=codes.TICKET)
        except PermissionDenied:
            return await self.close(code=codes.ACCESS)
        except rules.ConsoleRefused as exc:
            return await self.close(code=codes.REFUSAL[exc.code])
        await self.channel_layer.group_add(rules.console_group(self.session.public_id), self.channel_name)
        try:
            self.bridge = await open_bridge(self.session)
        except Unavailable as exc:
            self.end = ConsoleSession.End.FAILED
            return await self.close(code=exc.code)
        log.info("console %s open: %s on %s (%s)", self.session.public_id, self.session.user, self.session.server,
                 self.session.kind)
        await self.send(text_data=json.dumps({"type": "ready"}))
        await self.bridge.start(self._to_browser)
        self.tasks += [asyncio.create_task(self._guarded(job())) for job in (self._relay, self._watch, self._keepalive)]

    async def _guarded(self, job):
        """A background job ends quietly when the browser has gone meanwhile (disconnect cleans up)."""
        try:
            await job
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - sending to a closed browser, Proxmox gone: both end the console
            log.debug("console job ended: %r", exc)

    async def _to_browser(self, data):
        await self.send(bytes_data=data)

    async def _relay(self):
        while (chunk := await self.bridge.sock.recv()) is not None:
            await self.send(bytes_data=chunk)
        await self._end(ConsoleSession.End.UPSTREAM, codes.UPSTREAM_CLOSED)

    async def _watch(self):
        while True:
            await asyncio.sleep(settings.CONSOLE_RECHECK_SECONDS)
            reason = await database_sync_to_async(rules.console_check)(session=self.session)
            if reason:
                return await self._end(reason, codes.STAFF if reason == ConsoleSession.End.STAFF else codes.ACCESS)

    async def _keepalive(self):
        await self.bridge.keepalive()

    async def _ticket_deadline(self):
        await asyncio.sleep(TICKET_WAIT_SECONDS)
        if self.session is None:
            await self.close(code=codes.TICKET)

    async def _end(self, end, code):
        if self.end is None:
            self.end = end
        await self.close(code=code)

    async def console_end(self, event):
        """Staff ended the session (provisioning.actions.console.console_end)."""
        await self._end(ConsoleSession.End.STAFF, codes.STAFF)

    async def disconnect(self, code):
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()
        if self.bridge is not None:
            await self.bridge.sock.close()
        if self.session is not None:
            await self.channel_layer.group_discard(rules.console_group(self.session.public_id), self.channel_name)
            await database_sync_to_async(rules.console_close)(session=self.session,
                                                              end=self.end or ConsoleSession.End.BROWSER)
            log.info("console %s closed (%s)", self.session.public_id, self.end or ConsoleSession.End.BROWSER)
