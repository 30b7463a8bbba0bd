"""Ports and addresses as firewall rules take them: parsed, checked, and told apart when they overlap.

Plain functions without models, so the models' clean(), the actions and the firewall recipe
share one reading. Errors are ValidationErrors with the customer's words.
"""

import ipaddress

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

MAX_ITEMS = 20


def parse_ports(text):
    """'22', '80,443', '8000:8080' or '8000-8080' -> [(low, high), ...]; overlapping parts are refused."""
    spans = []
    for part in (p.strip() for p in str(text).split(",")):
        bounds = part.replace("-", ":").split(":")
        if not part or len(bounds) > 2 or not all(b.isdigit() for b in bounds):
            raise ValidationError(_("Enter ports as numbers, lists (80,443) or ranges (8000-8080)."), code="ports")
        low, high = int(bounds[0]), int(bounds[-1])
        if not (1 <= low <= 65535 and 1 <= high <= 65535):
            raise ValidationError(_("Ports lie between 1 and 65535."), code="ports")
        if low > high:
            raise ValidationError(_("A port range starts with the lower port: %(part)s.") % {"part": part}, code="ports")
        spans.append((low, high))
    if len(spans) > MAX_ITEMS:
        raise ValidationError(_("Enter at most %(n)s ports or ranges.") % {"n": MAX_ITEMS}, code="ports")
    _no_overlap(spans, lambda a, b: _("The ports %(a)s and %(b)s overlap.") % {"a": _port_text(a), "b": _port_text(b)})
    return spans


def ports_text(spans):
    """The form Proxmox takes: 80,443,8000:8080."""
    return ",".join(_port_text(s).replace("-", ":") for s in spans)


def _port_text(span):
    return str(span[0]) if span[0] == span[1] else f"{span[0]}-{span[1]}"


def parse_address(part, *, ranges=True):
    """One IP address, CIDR network or (if allowed) range 'a-b' -> (version, low int, high int)."""
    try:
        if "-" in part:
            if not ranges:
                # Proxmox IP sets hold addresses and networks only: say so, not just "no address".
                raise ValidationError(_("%(part)s is a range; an address set holds addresses and networks (CIDR) "
                                        "only, e.g. 192.0.2.0/28.") % {"part": part}, code="address")
            first, last = (ipaddress.ip_address(x.strip()) for x in part.split("-", 1))
            if first.version != last.version:
                raise ValidationError(_("A range stays within IPv4 or IPv6: %(part)s.") % {"part": part}, code="address")
            if first > last:
                raise ValidationError(_("A range starts with the lower address: %(part)s.") % {"part": part},
                                      code="address")
            return first.version, int(first), int(last)
        network = ipaddress.ip_network(part, strict=False)
    except ValueError:
        raise ValidationError(_("%(part)s is no IP address, network (CIDR) or range.") % {"part": part},
                              code="address") from None
    if network.prefixlen == 0:
        raise ValidationError(_("Leave the field empty for any address instead of %(part)s.") % {"part": part},
                              code="address")
    return network.version, int(network.network_address), int(network.broadcast_address)


def parse_addresses(text, *, ranges=True):
    """A comma-separated list of addresses, networks and ranges; overlaps and mixed versions are refused."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    if not parts:
        raise ValidationError(_("Enter at least one address."), code="address")
    if len(parts) > MAX_ITEMS:
        raise ValidationError(_("Enter at most %(n)s addresses or ranges.") % {"n": MAX_ITEMS}, code="address")
    spans = [(parse_address(p, ranges=ranges), p) for p in parts]
    if len({version for (version, _low, _high), _p in spans}) > 1:
        raise ValidationError(_("Do not mix IPv4 and IPv6 in one list."), code="address")
    _no_overlap([(low, high, p) for (_v, low, high), p in spans],
                lambda a, b: _("%(a)s and %(b)s overlap.") % {"a": a[2], "b": b[2]})
    return [p for _span, p in spans]


def normalize_address(part):
    """CIDR in its network form (192.0.2.7/24 -> 192.0.2.0/24), addresses and ranges as written."""
    if "/" in part and "-" not in part:
        return str(ipaddress.ip_network(part, strict=False))
    return part.replace(" ", "")


def _no_overlap(spans, message):
    ordered = sorted(spans, key=lambda s: (s[0], s[1]))
    for before, after in zip(ordered, ordered[1:], strict=False):
        if after[0] <= before[1]:
            raise ValidationError(message(before, after), code="overlap")


def covers_port(text, port):
    """Whether a port list (already valid) includes `port`; an empty list means every port."""
    if not text:
        return True
    return any(low <= port <= high for low, high in parse_ports(text))
