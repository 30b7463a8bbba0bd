"""Offer prices in exact decimals.

Rounding rule, as on German invoices: each line's net amount is rounded half-up to the cent, its
VAT (19 %) is computed from that rounded net and rounded half-up to the cent on its own, and every
total is the sum of the rounded lines - never a recomputation from unrounded figures. Money is
Decimal throughout; a float never touches it.
"""

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext as _

from tenants.models import Duty, Party

from .contracts import manages_servers
from .models import Offer

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
    tier = offer.tier
    if tier.fee_per_tenant:
        q.monthly.append(Line(_("Managed service: %(tier)s") % {"tier": tier.involvement}, 1, tier.fee_per_tenant))
    if tier.fee_per_server and sizing.guests and manages_servers(duties):
        q.monthly.append(Line(_("Managed servers"), len(sizing.guests), tier.fee_per_server))
    fees = tier.duty_fees()
    for duty in Duty.values:
        fee = fees.get(duty) or Decimal("0")
        if fee and duties.get(duty) == Party.JIKU:
            q.monthly.append(Line(_("Managed by JIKU: %(duty)s") % {"duty": Duty(duty).label}, 1, fee))
    return q
