from decimal import Decimal

import pytest

from services import actions
from services.contracts import effective_duties
from services.models import ServiceTier
from services.pricing import Line, cents, quote, total
from services.sizing import size
from tenants.models import Duty, Party
from tests.provisioning.conftest import windows_image  # noqa: F401


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
    lines = [(line.label, line.quantity, line.net) for line in q.monthly]
    assert lines[0] == ("Dedicated server VDS 12", 1, Decimal("189.00"))
    # "gering": JIKU holds all ten duties; each costs its own price, per customer and per server.
    assert [label for label, _, _ in lines[1:11]] == [f"Managed by JIKU: {Duty(d).label}" for d in Duty.values]
    assert sum(net for _, _, net in lines[1:11]) == Decimal("149.00")
    assert lines[11] == ("Server management by JIKU, per server", 4, Decimal("120.00"))
    # The terminal server's users need Remote Desktop licences, the CRM's users SQL Server's: five users each.
    assert lines[12:] == [("Remote Desktop Services SAL (SPLA), per user", 5, Decimal("34.50")),
                          ("SQL Server Standard SAL (SPLA), per user", 5, Decimal("74.50"))]
    assert (q.monthly_total.net, q.monthly_total.vat, q.monthly_total.gross) == (
        Decimal("567.00"), Decimal("107.74"), Decimal("674.74"))  # VAT per line, rounded each
    assert (q.once_total.net, q.once_total.vat, q.once_total.gross) == (
        Decimal("1990.00"), Decimal("378.10"), Decimal("2368.10"))
    assert q.term_total == Decimal("2368.10") + 24 * Decimal("674.74")


def test_the_same_duties_cost_the_same_in_every_tier(seller, plans):
    offer = actions.offer_create_sample(user=seller)
    gering = _quote(offer).monthly_total.net
    offer.tier = ServiceTier.objects.get(slug="mittel")
    offer.duties = {duty: Party.JIKU for duty in Duty.values}
    assert _quote(offer).monthly_total.net == gering


def test_mittel_charges_each_duty_that_jiku_holds(seller, plans):
    offer = actions.offer_create_sample(user=seller)
    offer.tier = ServiceTier.objects.get(slug="mittel")
    offer.duties = {duty: Party.JIKU for duty in Duty.values}
    all_jiku = _quote(offer).monthly_total.net
    offer.duties = {**offer.duties, Duty.TELEPHONY: Party.CUSTOMER}
    assert _quote(offer).monthly_total.net == all_jiku - Decimal("20.00")
    offer.duties = {**offer.duties, Duty.UPDATES: Party.CUSTOMER}
    # Updates cost 15.00 per customer and 9.00 for each of the four servers.
    assert _quote(offer).monthly_total.net == all_jiku - Decimal("20.00") - Decimal("15.00") - 4 * Decimal("9.00")


def test_mittel_is_priced_from_its_own_default_split(seller, plans):
    offer = actions.offer_create_sample(user=seller)
    offer.tier = ServiceTier.objects.get(slug="mittel")
    offer.duties = {}
    labels = [line.label for line in _quote(offer).monthly]
    held = [label.removeprefix("Managed by JIKU: ") for label in labels if label.startswith("Managed by JIKU")]
    assert held == [str(Duty(d).label) for d in ("infrastructure", "provisioning", "updates", "backups", "monitoring")]
    assert ("Server management by JIKU, per server", 4, Decimal("80.00")) in [
        (line.label, line.quantity, line.net) for line in _quote(offer).monthly]


def test_windows_servers_pay_windows_server_per_core_with_the_spla_minimum(seller, plans, cluster, windows_image,  # noqa: F811
                                                                          vm_image, ct_image):
    offer = actions.offer_create_sample(user=seller, language="en", cluster=cluster)
    images = {u.hostname: u.image for u in offer.use_cases.all() if u.hostname}
    assert (images["crm"], images["terminal"], images["dc"]) == (windows_image,) * 3
    assert images["nextcloud"] is None
    lines = {line.label: (line.quantity, line.net) for line in _quote(offer).monthly}
    # 2, 4 and 1 cores: each pays the minimum of 8 cores, four packs of 2 at 4.90.
    for hostname, cores in (("crm", "2 cores"), ("terminal", "4 cores"), ("dc", "1 core")):
        label = f"Windows Server Standard (SPLA) for {hostname}, {cores}, per 2 cores"
        assert lines[label] == (4, Decimal("19.60"))
    assert not any("nextcloud" in label and "Windows" in label for label in lines)


@pytest.mark.parametrize("hosting", ["shared"])
def test_guests_on_shared_nodes_cost_their_plans(seller, plans, hosting):
    offer = actions.offer_create_sample(user=seller)
    offer.hosting = hosting
    labels = [line.label for line in _quote(offer).monthly]
    assert "nextcloud (OFFER-CT-M)" in labels
    assert not any(label.startswith("Dedicated server") for label in labels)
