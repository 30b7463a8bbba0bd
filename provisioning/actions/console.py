"""Who may open a server's console, the browser's single-use ticket, and ending console sessions.

The rules, for every door (page, websocket, staff):
- Members and above of the server's tenant; viewers and everyone else are refused as if the
  server did not exist. Staff do not open customers' consoles here.
- No duty of the contract blocks it: the console is the customer's own way into their server,
  like SSH, which no tier takes away; who does what inside is the contract's business.
- The tenant is active, the server runs (stopped, being built, on a node that is down: each has
  its own message), and the user has fewer than CONSOLE_MAX_OPEN_PER_USER consoles open.
- The ticket is random, kept only as a hash, bound to the user and the server, used once (a
  conditional UPDATE claims it) and good for CONSOLE_TICKET_SECONDS. An open session checks the
  rules again every CONSOLE_RECHECK_SECONDS, so leaving the tenant or losing the role ends it.
"""

import hashlib
import secrets
from datetime import timedelta

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from provisioning.models import ConsoleSession, Server
from tenants.audit import audit_record, client_ip
from tenants.models import Membership, Tenant

KINDS = {Server.Kind.QEMU: (ConsoleSession.Kind.VNC, ConsoleSession.Kind.SERIAL),
         Server.Kind.LXC: (ConsoleSession.Kind.TERMINAL,)}
LIVE = (ConsoleSession.State.ISSUED, ConsoleSession.State.OPEN)

# code -> the customer's message; the console page shows them, the websocket names the code.
REFUSALS = {
    "stopped": _("The server is stopped. Start it to use the console."),
    "building": _("The server is still being built. The console opens once it runs."),
    "unavailable": _("The server's node cannot be reached right now. JIKU is on it; please try again later."),
    "gone": _("This server is being deleted or was never built, so it has no console."),
    "suspended": _("This tenant is suspended; its consoles are closed."),
    "too_many": _("You have too many consoles open. Close one and try again."),
    "kind": _("This server has no console of that kind."),
}


class ConsoleRefused(ValidationError):
    """Refused for a reason the customer can act on; `code` is a key of REFUSALS."""

    def __init__(self, code):
        super().__init__(REFUSALS[code], code=code)


class TicketInvalid(Exception):
    """Unknown, used, expired, or someone else's ticket."""


def ticket_hash(ticket):
    return hashlib.sha256(ticket.encode()).hexdigest()


def console_allowed(*, server, user):
    """Members and above of the server's tenant (read-only: pages ask this too)."""
    if user is None or not user.is_authenticated:
        return False
    membership = Membership.objects.filter(tenant_id=server.tenant_id, user=user).only("role").first()
    return membership is not None and membership.can("operate")


def console_kinds(server):
    return KINDS.get(server.kind, ())


def console_state_refusal(server):
    """The code of why this server's console cannot open now, or None (reads the database only)."""
    if server.tenant.status != Tenant.Status.ACTIVE:
        return "suspended"
    status = server.status
    if status == Server.Status.RUNNING:
        return "unavailable" if server.node_id is None or server.node.status != "online" else None
    return {Server.Status.STOPPED: "stopped", Server.Status.BUILDING: "building",
            Server.Status.UNAVAILABLE: "unavailable"}.get(status, "gone")


def console_open(*, server, user, kind, request=None):
    """Issue a console ticket: returns (session, ticket). The ticket is shown to this browser only."""
    with transaction.atomic():
        server = Server.objects.select_related("tenant", "node").get(pk=server.pk)
        if not console_allowed(server=server, user=user):
            raise PermissionDenied
        if kind not in console_kinds(server):
            raise ConsoleRefused("kind")
        refusal = console_state_refusal(server)
        if refusal:
            raise ConsoleRefused(refusal)
        now = timezone.now()
        _expire_unused(now)
        if ConsoleSession.objects.filter(user=user, state__in=LIVE).count() >= settings.CONSOLE_MAX_OPEN_PER_USER:
            raise ConsoleRefused("too_many")
        ticket = secrets.token_urlsafe(32)
        session = ConsoleSession.objects.create(
            server=server, user=user, kind=kind, ticket_hash=ticket_hash(ticket), ip_address=client_ip(request),
            expires_at=now + timedelta(seconds=settings.CONSOLE_TICKET_SECONDS),
        )
        audit_record(action="server.console_open", tenant=server.tenant, request=request, actor=user, obj=server,
                     details={"kind": kind, "session": str(session.public_id)})
    return session, ticket


def console_claim(*, session_id, ticket, user):
    """The websocket's one use of a ticket: ISSUED -> OPEN, or TicketInvalid. Rules are checked again."""
    now = timezone.now()
    claimed = ConsoleSession.objects.filter(
        public_id=session_id, ticket_hash=ticket_hash(ticket or ""), user_id=getattr(user, "pk", None),
        state=ConsoleSession.State.ISSUED, expires_at__gt=now,
    ).update(state=ConsoleSession.State.OPEN, connected_at=now)
    if claimed != 1:
        raise TicketInvalid
    session = ConsoleSession.objects.select_related("server__tenant", "server__node", "server__cluster", "user").get(
        public_id=session_id)
    reason = console_check(session=session)
    if reason:
        console_close(session=session, end=reason)
        if reason == ConsoleSession.End.ACCESS:
            raise PermissionDenied
        raise ConsoleRefused(console_state_refusal(session.server) or "gone")
    return session


def console_check(*, session):
    """Why an open session must end now (an End value), or None while it may go on."""
    fresh = ConsoleSession.objects.filter(pk=session.pk).values_list("state", "end").first()
    if fresh is None or fresh[0] == ConsoleSession.State.CLOSED:
        return (fresh and fresh[1]) or ConsoleSession.End.STAFF
    server = Server.objects.select_related("tenant", "node").filter(pk=session.server_id).first()
    if server is None or not console_allowed(server=server, user=session.user):
        return ConsoleSession.End.ACCESS
    if server.tenant.status != Tenant.Status.ACTIVE or server.status in (
            Server.Status.DELETING, Server.Status.DELETED, Server.Status.FAILED):
        return ConsoleSession.End.ACCESS
    return None


def console_close(*, session, end):
    """Mark a session closed once (later calls change nothing); returns whether this call closed it."""
    return bool(ConsoleSession.objects.filter(pk=session.pk).exclude(state=ConsoleSession.State.CLOSED).update(
        state=ConsoleSession.State.CLOSED, closed_at=timezone.now(), end=end))


def console_end(*, session, user, request=None):
    """Staff end a customer's console: the row first, then the web process holding it is told."""
    if not (user.is_staff and user.has_perm("provisioning.change_consolesession")):
        raise PermissionDenied
    with transaction.atomic():
        ended = ConsoleSession.objects.filter(pk=session.pk).exclude(state=ConsoleSession.State.CLOSED).update(
            state=ConsoleSession.State.CLOSED, closed_at=timezone.now(), end=ConsoleSession.End.STAFF, ended_by=user)
        if ended:
            audit_record(action="server.console_end", tenant=session.server.tenant, request=request, actor=user,
                         obj=session.server, details={"session": str(session.public_id)})
            transaction.on_commit(lambda: notify_end(session.public_id))
    return bool(ended)


def notify_end(public_id):
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(console_group(public_id), {"type": "console.end"})


def console_group(public_id):
    return f"console.{public_id}"


def _expire_unused(now):
    """Tickets nobody used in time no longer count as open."""
    ConsoleSession.objects.filter(state=ConsoleSession.State.ISSUED, expires_at__lte=now).update(
        state=ConsoleSession.State.CLOSED, closed_at=now, end=ConsoleSession.End.UNUSED)
