"""Reverse DNS: customers name their server's addresses; a name counts once it resolves forward."""

import ipaddress
import re

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from provisioning import powerdns, rdns
from provisioning.models import PtrRecord, Server
from tenants.audit import audit_record

from .servers import ensure_active, lock_server

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# Addresses can be named while the server exists; a deleted server's addresses are back in the pool.
NAMEABLE = {Server.Status.BUILDING, Server.Status.RUNNING, Server.Status.STOPPED, Server.Status.UNAVAILABLE}


def validate_ptr_name(name):
    """A fully qualified host name (a trailing dot is allowed), at least two labels, no numeric top level."""
    host = name.strip().rstrip(".").lower()
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise ValidationError({"name": _("Enter a fully qualified host name such as mail.example.com.")})
    return host


def _unavailable():
    if not powerdns.available():
        raise ValidationError(_("Reverse DNS is not available on this portal yet."))


def _owned_address(server, address):
    try:
        address = ipaddress.ip_address(str(address).strip())
    except ValueError:
        raise ValidationError({"address": _("Enter a valid IPv4 or IPv6 address.")}) from None
    if not rdns.owns(server, address):
        raise ValidationError({"address": _("This address does not belong to this server.")})
    return str(address)


def _dns_down():
    return ValidationError(_("The DNS server is not reachable right now; nothing was changed. Try again later."))


def ptr_set(
    *, server: Server, address: str, name: str, user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
) -> PtrRecord:
    """Name one of the server's addresses. Published at once when the name resolves forward to it,
    else kept as pending until it does."""
    _unavailable()
    host = validate_ptr_name(name)
    with transaction.atomic():
        server = lock_server(server)
        ensure_active(server.tenant)
        if server.status not in NAMEABLE:
            raise ValidationError(_("This server's addresses cannot be named right now."))
        address = _owned_address(server, address)
        if PtrRecord.objects.filter(address=address).exclude(server=server).exists():
            # Another cluster's server with the same address: DNS has room for one name only.
            raise ValidationError({"address": _("This address has a reverse DNS name on another server.")})
        record = PtrRecord.objects.filter(server=server, address=address).first() or PtrRecord(server=server, address=address)
        was_active = record.pk and record.status == PtrRecord.Status.ACTIVE
        record.name = host
        matches = powerdns.resolves_to(host, address)
        try:
            if matches:
                rdns.publish(record)
            elif was_active:
                # The old name must not stay in DNS while the new one waits for its forward record.
                rdns.withdraw(record)
        except powerdns.DNSError as exc:
            raise _dns_down() from exc
        record.status = PtrRecord.Status.ACTIVE if matches else PtrRecord.Status.PENDING
        record.checked_at = timezone.now()
        record.save()
        audit_record(
            action="ptr.set", tenant=server.tenant, request=request, actor=user, obj=server,
            details={"address": address, "name": host, "status": record.status},
        )
    return record


def ptr_delete(*, record: PtrRecord, user: AbstractBaseUser | None = None, request: HttpRequest | None = None) -> None:
    _unavailable()
    with transaction.atomic():
        server = lock_server(record.server)
        ensure_active(server.tenant)
        record = PtrRecord.objects.select_related("server__cluster").get(pk=record.pk)
        if record.status == PtrRecord.Status.ACTIVE:
            try:
                rdns.withdraw(record)
            except powerdns.DNSError as exc:
                raise _dns_down() from exc
        record.delete()
        audit_record(
            action="ptr.delete", tenant=server.tenant, request=request, actor=user, obj=server,
            details={"address": record.address, "name": record.name},
        )


def ptrs_recheck() -> int:
    """The periodic check: publish pending names that now resolve forward; returns how many did."""
    if not powerdns.available():
        return 0
    published = 0
    for record in PtrRecord.objects.filter(status=PtrRecord.Status.PENDING).select_related("server__cluster", "server__tenant"):
        try:
            if rdns.check(record):
                published += 1
                audit_record(action="ptr.published", tenant=record.server.tenant, obj=record.server,
                             details={"address": record.address, "name": record.name})
        except powerdns.DNSError:
            break  # PowerDNS is down: the next run tries them all again
    return published
