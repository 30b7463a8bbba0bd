"""The PowerDNS Authoritative HTTP API (zones and rrsets) and the forward lookups that vouch for a PTR.

The one module that talks to DNS: PowerDNS for writing, dnspython against DNS_RESOLVER for reading.
"""

import ipaddress

import dns.exception
import dns.resolver
import requests
from django.conf import settings


class DNSError(Exception):
    """PowerDNS could not be reached or refused the change."""


def available():
    return bool(settings.PDNS_API_URL and settings.PDNS_API_KEY)


def _url(path=""):
    return f"{settings.PDNS_API_URL}/api/v1/servers/{settings.PDNS_SERVER_ID}/zones{path}"


def _call(method, path="", **kwargs):
    try:
        response = requests.request(
            method, _url(path), headers={"X-API-Key": settings.PDNS_API_KEY}, timeout=settings.PDNS_TIMEOUT, **kwargs
        )
    except requests.RequestException as exc:
        raise DNSError(f"PowerDNS unreachable: {exc}") from exc
    if response.status_code >= 400:
        try:
            text = response.json().get("error", response.text)
        except ValueError:
            text = response.text
        raise DNSError(f"PowerDNS answered {response.status_code}: {text}")
    return response.json() if response.content else None


def fqdn(name):
    return name.rstrip(".").lower() + "."


def zone_exists(zone):
    try:
        _call("GET", f"/{fqdn(zone)}")
    except DNSError as exc:
        if " 404:" in str(exc) or " 422:" in str(exc):
            return False
        raise
    return True


def zone_ensure(zone, nameservers=()):
    """Create the zone (Native: the database is the source of truth) unless it exists."""
    if not zone_exists(zone):
        _call("POST", json={"name": fqdn(zone), "kind": "Native", "nameservers": [fqdn(n) for n in nameservers]})


def rrset_replace(zone, name, rtype, contents, ttl=None):
    rrset = {
        "name": fqdn(name), "type": rtype, "ttl": ttl or settings.RDNS_TTL, "changetype": "REPLACE",
        "records": [{"content": content, "disabled": False} for content in contents],
    }
    _call("PATCH", f"/{fqdn(zone)}", json={"rrsets": [rrset]})


def rrset_delete(zone, name, rtype):
    _call("PATCH", f"/{fqdn(zone)}", json={"rrsets": [{"name": fqdn(name), "type": rtype, "changetype": "DELETE"}]})


def reverse_zone(network):
    """The in-addr.arpa / ip6.arpa zone covering a pool's network, cut at an octet or nibble boundary."""
    network = ipaddress.ip_network(network, strict=False)
    labels = network.network_address.reverse_pointer.split(".")
    unit = 8 if network.version == 4 else 4
    per_address = 4 if network.version == 4 else 32
    keep = network.prefixlen // unit
    return ".".join(labels[per_address - keep:])


def _resolver():
    """DNS_RESOLVER is "host", "host:port" or "[v6-host]:port"; empty means the system's resolver."""
    spec = settings.DNS_RESOLVER
    resolver = dns.resolver.Resolver(configure=not spec)
    if spec:
        host, port = spec, 53
        if spec.startswith("["):
            host, _, rest = spec[1:].partition("]")
            port = int(rest.lstrip(":") or 53)
        elif spec.count(":") == 1:
            host, port = spec.split(":")[0], int(spec.split(":")[1])
        resolver.nameservers, resolver.port = [host], port
    resolver.lifetime = settings.PDNS_TIMEOUT
    return resolver


def forward_addresses(name, version):
    """The A (version 4) or AAAA (version 6) addresses `name` resolves to; empty if none or unanswered."""
    try:
        answer = _resolver().resolve(fqdn(name), "A" if version == 4 else "AAAA", search=False)
    except (dns.exception.DNSException, OSError):
        return set()
    return {ipaddress.ip_address(r.address) for r in answer}


def resolves_to(name, address):
    address = ipaddress.ip_address(address)
    return address in forward_addresses(name, address.version)
