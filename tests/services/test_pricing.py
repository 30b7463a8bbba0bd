from decimal import Decimal

import pytest

from services import actions
from services.contracts import effective_duties
from services.models import ServiceTier
from services.pricing import Line, cents, quote, total
from services.sizing import size
from tenants.models import Duty, Party


def test_vat_is_rounded_half_up_per_line_like_a_german_invoice():
    line = Line("x", 1, Decimal("1.50"))
    assert (line.net, line.vat, line.gross) == (Decimal("1.50"), Decimal("0.29"), Decimal("1.79"))  # 0.285 -> 0.29
    assert cents(Decimal("0.125")) == Decimal("0.13")


def test_totals_are_sums_of_the_rounded_lines_not_a_recomputation():
    lines = [Line(str(i), 1, Decimal("0.03")) for i in range(3)]
    totals = total(lines)
    assert totals.net == Decimal("0.09")
    assert totals.vat == Decimal("0.03")  # 3 x 0.0057 -> 3 x 0.01; 0.09 x 19 % would give 0.02
    assert totals.gross == Decimal("0.12")


def test_a_line_multiplies_quantity_and_unit_price_exactly():
    line = Line("Managed servers", 4, Decimal("39.00"))
    assert (line.net, line.vat, line.gross) == (Decimal("156.00"), Decimal("29.64"), Decimal("185.64"))
    assert all(isinstance(v, Decimal) for v in (line.net, line.vat, line.gross))


def _quote(offer):
    use_cases = list(offer.use_cases.select_related("plan"))
    duties = effective_duties(offer.tier, offer.duties)
    return quote(offer=offer, sizing=size(use_cases=use_cases, headroom_percent=offer.headroom_percent,
                                          tier=offer.tier), duties=duties)


def test_the_sample_customer_is_priced_to_the_cent(seller, plans):
    q = _quote(actions.offer_create_sample(user=seller))
    assert [(line.label, line.net) for line in q.monthly] == [
        ("Dedicated server VDS 12", Decimal("189.00")),
        ("Managed service: Customer involvement low – JIKU runs the operation", Decimal("149.00")),
        ("Managed servers", Decimal("156.00")),
    ]
    assert (q.monthly_total.net, q.monthly_total.vat, q.monthly_total.gross) == (
        Decimal("494.00"), Decimal("93.86"), Decimal("587.86"))
    assert (q.once_total.net, q.once_total.vat, q.once_total.gross) == (
        Decimal("1990.00"), Decimal("378.10"), Decimal("2368.10"))
    assert q.term_total == Decimal("2368.10") + 24 * Decimal("587.86")


def test_mittel_charges_each_duty_that_jiku_holds(seller, plans):
    offer = actions.offer_create_sample(user=seller)
    offer.tier = ServiceTier.objects.get(slug="mittel")
    all_jiku = _quote(offer).monthly_total.net
    offer.duties = {**offer.duties, Duty.TELEPHONY: Party.CUSTOMER}
    assert _quote(offer).monthly_total.net == all_jiku - Decimal("29.00")


def test_tiers_without_choice_ignore_duty_changes(seller, plans):
    offer = actions.offer_create_sample(user=seller)
    before = _quote(offer).monthly_total.net
    offer.duties = {duty: Party.CUSTOMER for duty in Duty.values}
    assert _quote(offer).monthly_total.net == before
    assert effective_duties(offer.tier, offer.duties)[Duty.BACKUPS] == Party.JIKU


@pytest.mark.parametrize("hosting", ["shared"])
def test_guests_on_shared_nodes_cost_their_plans(seller, plans, hosting):
    offer = actions.offer_create_sample(user=seller)
    offer.hosting = hosting
    labels = [line.label for line in _quote(offer).monthly]
    assert "nextcloud (OFFER-CT-M)" in labels
    assert not any(label.startswith("Dedicated server") for label in labels)
