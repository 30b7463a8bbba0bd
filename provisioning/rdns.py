"""Reverse DNS of servers' addresses: which zone a PTR belongs in, publishing and withdrawing it.

Used by the actions (set, delete, the periodic re-check) and by the delete recipe, which withdraws a
server's records before its addresses go back to the pool.
"""

import ipaddress
import logging

from django.utils import timezone

from . import powerdns
from .models import PtrRecord
from .placement import pool_containing

log = logging.getLogger(__name__)


def addresses_of(server):
    """The addresses a server owns: its IPv4 address and every address in its routed IPv6 prefix."""
    owned = []
    if server.ipv4:
        owned.append(ipaddress.ip_network(f"{server.ipv4}/32"))
    if server.ipv6_prefix:
        owned.append(ipaddress.ip_network(server.ipv6_prefix))
    return owned


def owns(server, address):
    address = ipaddress.ip_address(address)
    return any(address.version == net.version and address in net for net in addresses_of(server))


def zone_for(record):
    """The reverse zone of the address's pool (cut at an octet or nibble), else its /24 or /64."""
    address = ipaddress.ip_address(record.address)
    pool = pool_containing(record.server.cluster, address)
    network = pool.network if pool else f"{address}/{24 if address.version == 4 else 64}"
    return powerdns.reverse_zone(network)


def publish(record):
    zone = zone_for(record)
    powerdns.zone_ensure(zone)
    powerdns.rrset_replace(zone, ipaddress.ip_address(record.address).reverse_pointer, "PTR", [powerdns.fqdn(record.name)])


def withdraw(record):
    powerdns.rrset_delete(zone_for(record), ipaddress.ip_address(record.address).reverse_pointer, "PTR")


def check(record):
    """Publish a pending record whose name now resolves to its address; True when it is active."""
    now = timezone.now()
    if not powerdns.resolves_to(record.name, record.address):
        PtrRecord.objects.filter(pk=record.pk).update(checked_at=now)
        return False
    publish(record)
    PtrRecord.objects.filter(pk=record.pk).update(status=PtrRecord.Status.ACTIVE, checked_at=now)
    record.status, record.checked_at = PtrRecord.Status.ACTIVE, now
    return True


def forget(server):
    """Withdraw a server's PTR records before its addresses go back to the pool."""
    for record in server.ptr_records.select_related("server__cluster"):
        if record.status == PtrRecord.Status.ACTIVE and powerdns.available():
            try:
                withdraw(record)
            except powerdns.DNSError:
                log.warning("could not withdraw PTR %s of %s", record.address, server, exc_info=True)
        record.delete()
