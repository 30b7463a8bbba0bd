"""Offer prices in exact decimals.

Rounding rule, as on German invoices: each line's net amount is rounded half-up to the cent, its
VAT (19 %) is computed from that rounded net and rounded half-up to the cent on its own, and every
total is the sum of the rounded lines - never a recomputation from unrounded figures. Money is
Decimal throughout; a float never touches it.
"""

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from tenants.models import Duty, Party

from .models import DutyPrice, Licence, Offer

VAT_RATE = Decimal("0.19")
CENT = Decimal("0.01")


def cents(amount):
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Line:
    label: str
    quantity: int
    unit_net: Decimal

    @property
    def net(self):
        return cents(self.unit_net * self.quantity)

    @property
    def vat(self):
        return cents(self.net * VAT_RATE)

    @property
    def gross(self):
        return self.net + self.vat


@dataclass(frozen=True)
class Totals:
    net: Decimal
    vat: Decimal
    gross: Decimal


def total(lines):
    return Totals(
        net=sum((line.net for line in lines), Decimal("0.00")),
        vat=sum((line.vat for line in lines), Decimal("0.00")),
        gross=sum((line.gross for line in lines), Decimal("0.00")),
    )


@dataclass
class Quote:
    once: list = field(default_factory=list)
    monthly: list = field(default_factory=list)
    term_months: int = 1

    @property
    def once_total(self):
        return total(self.once)

    @property
    def monthly_total(self):
        return total(self.monthly)

    @property
    def term_total(self):
        """Gross over the whole term: the one-off amounts plus every month."""
        return self.once_total.gross + self.monthly_total.gross * self.term_months

    def as_data(self):
        """The lines as a revision keeps them, so a printed revision never depends on today's prices."""
        def lines(items):
            return [{"label": str(x.label), "quantity": x.quantity, "unit_net": str(x.unit_net)} for x in items]
        return {"once": lines(self.once), "monthly": lines(self.monthly), "term_months": self.term_months}

    @classmethod
    def from_data(cls, data):
        def lines(items):
            return [Line(x["label"], x["quantity"], Decimal(x["unit_net"])) for x in items]
        return cls(once=lines(data["once"]), monthly=lines(data["monthly"]), term_months=data["term_months"])


def quote(*, offer, sizing, duties):
    """The offer's price. On a dedicated VDS the VDS price covers the guests' resources; on shared
    nodes each guest costs its plan's price. Tier fees and managed duties come on top."""
    q = Quote(term_months=offer.term_months)
    for label, amount in (
        (_("Set-up of the virtualisation platform"), offer.setup_fee),
        (_("Migration of the applications"), offer.migration_fee),
        (_("Proof of concept"), offer.poc_fee),
    ):
        if amount:
            q.once.append(Line(label, 1, Decimal(amount)))
    if offer.hosting == Offer.Hosting.VDS and sizing.vds is not None:
        q.monthly.append(Line(_("Dedicated server %(name)s") % {"name": sizing.vds.name}, 1, sizing.vds.price_monthly))
    elif offer.hosting == Offer.Hosting.SHARED:
        for guest in sizing.guests:
            q.monthly.append(
                Line(f"{guest.hostname} ({guest.plan.name})", 1, guest.plan.price_monthly)
            )
    q.monthly.extend(managed_lines(duties, servers=len(sizing.guests)))
    q.monthly.extend(licence_lines(sizing.guests, users=offer.employees))
    return q


def held_by_jiku(duties):
    return [d for d in Duty.values if duties.get(d) == Party.JIKU]


def managed_fees(duties):
    """(duty, fee per month, fee per server) for each duty JIKU holds: whatever the tier, the same
    duties cost the same."""
    prices = DutyPrice.objects.in_bulk(field_name="duty")
    return [(d, prices[d].per_month, prices[d].per_server) for d in held_by_jiku(duties) if d in prices]


def managed_lines(duties, *, servers):
    lines, per_server = [], Decimal("0")
    for duty, per_month, server_fee in managed_fees(duties):
        if per_month:
            lines.append(Line(_("Managed by JIKU: %(duty)s") % {"duty": Duty(duty).label}, 1, per_month))
        per_server += server_fee
    if per_server and servers:
        lines.append(Line(_("Server management by JIKU, per server"), servers, per_server))
    return lines


def licensed_users(employees):
    """Per-user licences are owed for every one of the customer's people, and at least one."""
    return max(employees or 1, 1)


def core_licences(image):
    """The per-core licences every server from `image` needs (Windows Server for a Windows image)."""
    if image is None or not image.os_family:
        return []
    return list(Licence.objects.filter(active=True, metric=Licence.Metric.PER_CORE, os_family=image.os_family))


def core_licence_line(licence, *, cores, hostname=""):
    if hostname:
        label = ngettext("%(licence)s for %(hostname)s, %(cores)s core, per %(pack)s cores",
                         "%(licence)s for %(hostname)s, %(cores)s cores, per %(pack)s cores", cores)
    else:
        label = ngettext("%(licence)s, %(cores)s core, per %(pack)s cores", "%(licence)s, %(cores)s cores, per %(pack)s cores",
                         cores)
    return Line(label % {"licence": licence.name, "hostname": hostname, "cores": cores, "pack": licence.pack_cores},
                licence.packs(cores), licence.price_monthly)


def licence_lines(guests, *, users):
    """Windows Server per core for each Windows guest; per-user licences once, for every user."""
    families = {guest.image.os_family for guest in guests if guest.image is not None and guest.image.os_family}
    by_family = {}
    for licence in Licence.objects.filter(active=True, metric=Licence.Metric.PER_CORE, os_family__in=families):
        by_family.setdefault(licence.os_family, []).append(licence)
    lines = [core_licence_line(licence, cores=guest.plan.cores, hostname=guest.hostname)
             for guest in guests if guest.image is not None
             for licence in by_family.get(guest.image.os_family, [])]
    codes = sorted({code for guest in guests for code in guest.licences})
    for licence in Licence.objects.filter(active=True, metric=Licence.Metric.PER_USER, code__in=codes):
        lines.append(Line(_("%(licence)s, per user") % {"licence": licence.name}, licensed_users(users), licence.price_monthly))
    return lines


def offer_licences(guests):
    """The licences an offer's guests need, for the explanations under the price table."""
    codes = {code for guest in guests for code in guest.licences}
    families = {guest.image.os_family for guest in guests if guest.image is not None and guest.image.os_family}
    return list(Licence.objects.filter(active=True).filter(
        Q(metric=Licence.Metric.PER_USER, code__in=codes) | Q(metric=Licence.Metric.PER_CORE, os_family__in=families)))
