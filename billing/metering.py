"""What a tenant used in a month, derived from what really happened.

Periods come from succeeded operations only: a server is billed from the moment its create (or
staging copy, or restore into a new server) succeeded until its delete succeeded; a succeeded
resize starts a new period at its new size. A failed order never built anything and is not billed;
a suspended tenant's stopped servers still exist and are billed. Times are cut to the minute; a
period's quantity is its minutes over the month's minutes, so a whole month is exactly 1.

Prices: an order's frozen monthly price (services), resources beyond its plan at the rates valid
when the size began (billing.Rate), and the contract's frozen fees. A server without an order of
its own is billed as the order it descends from (a staging copy, a restore into a new server, the
new production server after a promote); a server that descends from no order was never sold
(staff's own servers, adopted guests) and is not billed.
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from provisioning.models import Backup, Operation, Server
from services.models import Contract, Order, packs
from services.pricing import cents
from tenants.models import Duty

from .pricing import Rates, quantity, size_price

K = Operation.Kind
START_KINDS = (K.CREATE, K.STAGING, K.RESTORE)
END_KINDS = (K.DELETE, K.TEMPLATE)
KINDS = (*START_KINDS, *END_KINDS, K.RESIZE, K.PROMOTE)
ONCE_LABELS = {
    "setup": gettext_noop("Set-up of the virtualisation platform"),
    "migration": gettext_noop("Migration of the applications"),
    "poc": gettext_noop("Proof of concept"),
}


@dataclass
class Charge:
    code: str
    description: str
    detail: str = ""
    quantity: Decimal = Decimal("1")
    unit: str = "MON"
    unit_price: Decimal = Decimal("0")
    net: Decimal = Decimal("0.00")
    server_public_id: object = None
    started_at: object = None
    ended_at: object = None
    minutes: int = 0


@dataclass
class Segment:
    server: object
    order: object
    start: datetime.datetime
    end: datetime.datetime
    priced_at: datetime.datetime
    size: dict
    staging: bool = False
    minutes: int = 0


@dataclass
class Usage:
    charges: list = field(default_factory=list)
    segments: list = field(default_factory=list)

    @property
    def net(self):
        return sum((c.net for c in self.charges), Decimal("0.00"))


def month_bounds(year, month):
    """[start, end) of a calendar month in the portal's time zone."""
    tz = timezone.get_default_timezone()
    start = datetime.datetime(year, month, 1, tzinfo=tz)
    end = datetime.datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
    return start, end


def month_of(moment):
    local = timezone.localtime(moment)
    return local.year, local.month


def minute(moment):
    return moment.replace(second=0, microsecond=0)


def minutes_between(a, b):
    return max(0, int((minute(b) - minute(a)).total_seconds() // 60))


def _size(raw, fallback):
    raw = raw or {}
    return {k: int(raw.get(k, fallback[k])) for k in ("cores", "memory_mb", "disk_gb")}


def _day(moment):
    return formats.date_format(timezone.localtime(moment), "SHORT_DATE_FORMAT")


def span_text(a, b):
    """'01.03.2026 – 15.03.2026 (336 h)', the end shown as the last minute billed."""
    hours = Decimal(minutes_between(a, b)) / 60
    return _("%(start)s – %(end)s (%(hours)s h)") % {
        "start": _day(a), "end": _day(b - datetime.timedelta(minutes=1)),
        "hours": formats.number_format(hours.quantize(Decimal("0.01")).normalize(), use_l10n=True),
    }


def size_text(size):
    return _("%(cores)s cores, %(memory)s GiB memory, %(disk)s GiB disk") % {
        "cores": size["cores"], "memory": formats.number_format(Decimal(size["memory_mb"]) / 1024, 2).rstrip("0").rstrip(",.") or "0",
        "disk": size["disk_gb"],
    }


def server_segments(tenant, start, cutoff):
    """Every billed stretch of the tenant's servers inside [start, cutoff), split at resizes and promotes."""
    # The other server and the backup are real columns where provisioning has them, else in params.
    fields = {f.name for f in Operation._meta.get_fields()}
    extra = [f"{name}_id" if name in fields else "params" for name in ("peer", "backup")]
    ops = list(
        Operation.objects.filter(tenant=tenant, state=Operation.State.SUCCEEDED, kind__in=KINDS,
                                 finished_at__lt=cutoff, server__isnull=False)
        .order_by("finished_at", "id").values_list("server_id", "kind", "params", "finished_at", *extra)
    )
    begun, ended, resizes, role_changes, origin = {}, {}, {}, {}, {}
    restored_from = {}
    for server_id, kind, params, at, peer, backup in ops:
        params = dict(params or {})
        if "peer" in fields and peer:
            params.setdefault("source" if kind == K.STAGING else "staging", peer)
        if "backup" in fields and backup:
            params.setdefault("backup", backup)
        if kind in START_KINDS and server_id not in begun:
            if kind == K.RESTORE and not params.get("new"):
                continue
            begun[server_id] = at
            if kind == K.STAGING and params.get("source"):
                origin[server_id] = params["source"]
                role_changes.setdefault(server_id, []).append((at, True))
            elif kind == K.RESTORE:
                restored_from[server_id] = params.get("backup")
        elif kind in END_KINDS and server_id not in ended:
            ended[server_id] = at
        elif kind == K.RESIZE:
            resizes.setdefault(server_id, []).append((at, params))
        elif kind == K.PROMOTE and params.get("staging"):
            role_changes.setdefault(server_id, []).append((at, True))
            role_changes.setdefault(params["staging"], []).append((at, False))
    live = [sid for sid, at in begun.items() if ended.get(sid) is None or ended[sid] > start]
    if not live:
        return []
    if restored_from:
        sources = dict(Backup.objects.filter(pk__in=[b for b in restored_from.values() if b]).values_list("pk", "server_id"))
        for sid, backup in restored_from.items():
            if sources.get(backup):
                origin[sid] = sources[backup]
    servers = {s.pk: s for s in Server.objects.filter(pk__in=live).only(
        "pk", "public_id", "hostname", "cores", "memory_mb", "disk_gb", "predecessor_id")}
    orders = {o.server_id: o for o in Order.objects.filter(tenant=tenant, server__isnull=False).select_related("plan")}
    for server in servers.values():
        if server.predecessor_id and server.pk not in origin:
            origin[server.pk] = server.predecessor_id

    def order_of(sid, seen=()):
        if sid in orders:
            return orders[sid]
        if sid in origin and sid not in seen:
            return order_of(origin[sid], (*seen, sid))
        return None

    segments = []
    for sid in live:
        server, order = servers.get(sid), order_of(sid)
        if server is None or order is None:
            continue
        current = {"cores": server.cores, "memory_mb": server.memory_mb, "disk_gb": server.disk_gb}
        changes = resizes.get(sid, [])
        sizes = [(begun[sid], _size(changes[0][1].get("old"), current) if changes else current)]
        for i, (at, params) in enumerate(changes):
            following = changes[i + 1][1].get("old") if i + 1 < len(changes) else None
            sizes.append((at, _size(params.get("new") or following, current)))
        roles = sorted(role_changes.get(sid, []))
        cuts = sorted({at for at, _s in sizes} | {at for at, _r in roles})
        life_end = min(ended.get(sid) or cutoff, cutoff)
        for i, a in enumerate(cuts):
            b = cuts[i + 1] if i + 1 < len(cuts) else life_end
            a_clip, b_clip = max(a, start), min(b, life_end)
            mins = minutes_between(a_clip, b_clip) if b_clip > a_clip else 0
            if not mins:
                continue
            priced_at, size = next((at, sz) for at, sz in reversed(sizes) if at <= a)
            staging = next((flag for at, flag in reversed(roles) if at <= a), False)
            segments.append(Segment(server, order, a_clip, b_clip, priced_at, size, staging, mins))
    return segments


def contracts_in(tenant, start, cutoff):
    return list(
        Contract.objects.filter(tenant=tenant, started_at__lt=cutoff)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=start)).select_related("tier").order_by("started_at")
    )


def _charge(code, description, unit_price, mins, month_minutes, **kw):
    unit_price = Decimal(unit_price)
    return Charge(code=code, description=description, unit_price=unit_price, minutes=mins,
                  quantity=quantity(Decimal(mins) / month_minutes),
                  net=cents(unit_price * mins / month_minutes), **kw)


def usage(tenant, start, end, *, until=None, rates=None):
    """The charges of [start, end) (a calendar month); with `until`, only what was used before it."""
    cutoff = min(end, until) if until else end
    rates = rates or Rates()
    month_minutes = Decimal(minutes_between(start, end))
    result = Usage()
    if cutoff <= start:
        return result
    contracts = contracts_in(tenant, start, cutoff)
    for contract in contracts:
        fees = contract.fees or {}
        a, b = max(start, contract.started_at), min(cutoff, contract.ended_at or cutoff)
        mins = minutes_between(a, b)
        detail = span_text(a, b) if mins else ""
        tier = fees.get("tier") or {}
        monthly = []
        if fees.get("vds"):
            monthly.append(("vds", _("Dedicated server (VDS) %(name)s") % {"name": fees["vds"]["name"]}, fees["vds"]["price"]))
        if Decimal(tier.get("fee_per_tenant") or 0):
            monthly.append(("tier", _("Service tier %(tier)s") % {"tier": tier.get("name", contract.tier.name)},
                            tier["fee_per_tenant"]))
        for duty in fees.get("duties", []):
            if Decimal(duty.get("fee") or 0):
                monthly.append(("duty", _("Managed by JIKU: %(duty)s") % {"duty": Duty(duty["duty"]).label}, duty["fee"]))
        for licence in fees.get("licences", []):
            monthly.append(("licence", _("%(licence)s, %(count)s users") % {"licence": licence["name"],
                                                                          "count": licence["quantity"]},
                            str(Decimal(licence["price"]) * licence["quantity"])))
        if mins:
            for code, label, price in monthly:
                result.charges.append(_charge(code, label, price, mins, month_minutes, detail=detail, started_at=a, ended_at=b))
        if start <= contract.started_at < cutoff:
            for item in fees.get("once", []):
                result.charges.append(Charge(
                    code="once", description=_(ONCE_LABELS.get(item["code"], item["code"])), unit="C62",
                    unit_price=Decimal(item["amount"]), net=cents(Decimal(item["amount"])),
                    detail=_("one-off, agreed on %(date)s") % {"date": _day(contract.started_at)},
                    started_at=contract.started_at,
                ))
    segments = server_segments(tenant, start, cutoff)
    result.segments = segments
    for seg in sorted(segments, key=lambda s: (s.server.hostname, s.start)):
        price = size_price(base=seg.order.price_monthly, plan=seg.order.plan, rates=rates, moment=seg.priced_at, **seg.size)
        description = f"{seg.server.hostname} · {seg.order.plan.name}"
        if seg.staging:
            description += " · " + _("staging copy")
        result.charges.append(_charge(
            "server", description, price, seg.minutes, month_minutes, detail=f"{size_text(seg.size)} · {span_text(seg.start, seg.end)}",
            server_public_id=seg.server.public_id, started_at=seg.start, ended_at=seg.end,
        ))
        for licence in seg.order.licences:
            count = packs(seg.size["cores"], pack=licence["pack"], minimum=licence["minimum"])
            result.charges.append(_charge(
                "licence", f"{licence['name']} · {seg.server.hostname}", Decimal(licence["price"]) * count, seg.minutes,
                month_minutes, detail=_("%(count)s packs of %(pack)s cores · %(span)s")
                % {"count": count, "pack": licence["pack"], "span": span_text(seg.start, seg.end)},
                server_public_id=seg.server.public_id, started_at=seg.start, ended_at=seg.end,
            ))
    for contract in contracts:
        fees = contract.fees or {}
        tier = fees.get("tier") or {}
        # Contracts before prices per duty carry one tier fee per server; later ones a fee per duty.
        fee = Decimal(tier.get("fee_per_server") or 0) if tier.get("manages_servers") else Decimal("0")
        fee += sum((Decimal(d.get("per_server") or 0) for d in fees.get("duties", [])), Decimal("0"))
        if not fee:
            continue
        a, b = max(start, contract.started_at), min(cutoff, contract.ended_at or cutoff)
        mins = sum(minutes_between(max(a, s.start), min(b, s.end)) for s in segments
                   if not s.staging and min(b, s.end) > max(a, s.start))
        if mins:
            servers = len({s.server.pk for s in segments if not s.staging})
            result.charges.append(_charge(
                "managed", _("Managed servers (%(tier)s)") % {"tier": tier.get("name", "")}, fee, mins, month_minutes,
                detail=_("%(count)s servers, per server and month") % {"count": servers},
            ))
    result.charges.extend(_extra_backups(tenant, start, cutoff, segments, contracts, rates, month_minutes))
    return result


def _extra_backups(tenant, start, cutoff, segments, contracts, rates, month_minutes):
    """Backups kept beyond the plan's slots, where the customer holds backups and the rate is not zero."""
    rate = rates.at("backup", start)
    if not rate or any((c.duties or {}).get(Duty.BACKUPS) == "jiku" for c in contracts):
        return []
    lives = {}
    for seg in segments:
        lo, hi = lives.get(seg.server.pk, (seg.start, seg.end, seg))[:2]
        lives[seg.server.pk] = (min(lo, seg.start), max(hi, seg.end), seg)
    if not lives:
        return []
    backups = Backup.objects.filter(tenant=tenant, server_id__in=list(lives), created_at__lt=cutoff).filter(
        Q(deleted_at__isnull=True) | Q(deleted_at__gt=start)).values_list("server_id", "created_at", "deleted_at")
    events = {}
    for server_id, created, deleted in backups:
        events.setdefault(server_id, []).extend([(created, 1), (deleted or cutoff, -1)])
    charges = []
    for server_id, evs in events.items():
        lo, hi, seg = lives[server_id]
        slots = seg.order.plan.backup_slots
        count, last, excess = 0, lo, 0
        for at, delta in sorted(evs):
            at = min(max(at, lo), hi)
            if count > slots:
                excess += (count - slots) * minutes_between(last, at)
            count, last = count + delta, at
        if count > slots:
            excess += (count - slots) * minutes_between(last, hi)
        if excess:
            charges.append(_charge(
                "backup", _("%(server)s · backups beyond the %(slots)s included") % {"server": seg.server.hostname, "slots": slots},
                rate, excess, month_minutes, detail=_("per backup and month"), server_public_id=seg.server.public_id,
            ))
    return charges
