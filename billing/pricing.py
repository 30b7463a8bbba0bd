"""Money rules of invoices: exact decimals, VAT per rate, the customer's VAT treatment, rates.

Each line's net is rounded half-up to the cent from the exact quantity; VAT is computed on the
sum of the lines of one rate and rounded half-up once (EN 16931, BR-S-09), so the e-invoice and
the PDF agree to the cent. (An offer rounds VAT per line; an invoice is what the tax office reads.)
"""

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext as _

from services.pricing import cents

STANDARD_RATE = Decimal("19.00")
QUANTITY = Decimal("0.0001")
EU = {"AT", "BE", "BG", "CY", "CZ", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU", "LV",
      "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"}
COUNTRY_NAMES = {
    "deutschland": "DE", "germany": "DE", "österreich": "AT", "austria": "AT", "schweiz": "CH", "switzerland": "CH",
    "frankreich": "FR", "france": "FR", "niederlande": "NL", "netherlands": "NL", "belgien": "BE", "belgium": "BE",
    "luxemburg": "LU", "luxembourg": "LU", "italien": "IT", "italy": "IT", "spanien": "ES", "spain": "ES",
    "polen": "PL", "poland": "PL", "dänemark": "DK", "denmark": "DK",
}
POSTCODE_CITY = re.compile(r"^(?:([A-Z]{1,2})[- ])?(\d{4,5})\s+(\S.*)$")


def quantity(value):
    return Decimal(value).quantize(QUANTITY, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Address:
    lines: tuple
    street: str
    postcode: str
    city: str
    country: str


def parse_address(text):
    """The free-text billing address as a postal address; None without a "postcode city" line.

    Accepted: lines ending in "12345 Stadt" (or "A-1010 Wien"), optionally followed by a country.
    """
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    country = "DE"
    if lines and lines[-1].lower() in COUNTRY_NAMES:
        country = COUNTRY_NAMES[lines.pop().lower()]
    if not lines:
        return None
    match = POSTCODE_CITY.match(lines[-1])
    if match is None:
        return None
    prefix, postcode, city = match.groups()
    if prefix and len(prefix) == 2:
        country = prefix
    elif prefix:
        country = {"A": "AT", "D": "DE", "F": "FR", "L": "LU", "B": "BE", "I": "IT", "NL": "NL"}.get(prefix, country)
    street = lines[-2] if len(lines) >= 2 else ""
    return Address(lines=tuple(lines), street=street, postcode=postcode, city=city, country=country)


@dataclass(frozen=True)
class Treatment:
    category: str  # EN 16931 VAT category: S standard, AE reverse charge
    rate: Decimal
    note: str = ""


def vat_treatment(*, country, vat_id):
    """German customers pay 19 %; businesses elsewhere in the EU with a VAT ID owe the VAT themselves.

    Returns None where the portal cannot decide (no EU VAT ID abroad): staff must look at it.
    """
    if country == "DE":
        return Treatment("S", STANDARD_RATE)
    if country in EU and vat_id and vat_id[:2].upper() == ("EL" if country == "GR" else country):
        return Treatment("AE", Decimal("0.00"), _("Reverse charge: the recipient owes the VAT (§ 13b UStG, Art. 196 VAT Directive)."))
    return None


def breakdown(lines):
    """[(category, rate, net, vat)] per VAT rate of `lines` (objects with net, vat_category, vat_rate)."""
    groups = {}
    for line in lines:
        key = (line.vat_category, Decimal(line.vat_rate))
        groups[key] = groups.get(key, Decimal("0.00")) + Decimal(line.net)
    return [(cat, rate, net, cents(net * rate / 100)) for (cat, rate), net in sorted(groups.items())]


def totals(lines):
    rows = breakdown(lines)
    net = sum((r[2] for r in rows), Decimal("0.00"))
    vat = sum((r[3] for r in rows), Decimal("0.00"))
    return net, vat, net + vat


class Rates:
    """The rate history, loaded once: `at(code, moment)` is the price valid then (0 before any)."""

    def __init__(self, rows=None):
        from .models import Rate

        rows = list(Rate.objects.order_by("valid_from")) if rows is None else rows
        self.history = {}
        for row in rows:
            self.history.setdefault(row.code, []).append((row.valid_from, row.amount))

    def at(self, code, moment):
        price = Decimal("0")
        for valid_from, amount in self.history.get(code, ()):
            if valid_from > moment:
                break
            price = amount
        return price


def size_price(*, base, plan, cores, memory_mb, disk_gb, rates, moment):
    """The monthly price of a server of this size sold as `plan` for `base`: resources beyond the
    plan cost the rates valid at `moment`. On a customer's own VDS (base 0) the VDS covers them."""
    if not base:
        return Decimal("0")
    extra = (
        max(0, cores - plan.cores) * rates.at("core", moment)
        + max(Decimal(0), Decimal(memory_mb - plan.memory_mb) / 1024) * rates.at("memory_gib", moment)
        + max(0, disk_gb - plan.disk_gb) * rates.at("disk_gib", moment)
    )
    return Decimal(base) + extra
