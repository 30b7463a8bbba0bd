"""Payments from a bank statement exported as CSV (the "CAMT CSV" of German online banking).

The columns are found by their headings (Buchungstag/Valutadatum, Betrag, Verwendungszweck, or
their English names); a credit whose purpose names an invoice number pays that invoice. A line
imported twice is recorded once.
"""

import csv
import datetime
import io
import re
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .actions import invoice_mark_paid
from .models import Invoice, Payment

HEADINGS = {
    "date": ("buchungstag", "valutadatum", "booking date", "date", "datum"),
    "amount": ("betrag", "amount", "umsatz"),
    "purpose": ("verwendungszweck", "purpose", "reference", "remittance information", "buchungstext"),
}
NUMBER = re.compile(r"\bRE-\d{4}-\d{5}\b")


def _column(header, names):
    lowered = [h.strip().lower() for h in header]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    return None


def _amount(text):
    text = text.strip().replace("€", "").replace(" ", "")
    if "," in text:
        text = text.replace(".", "").replace(",", ".")
    return Decimal(text)


def _date(text):
    text = text.strip()
    for fmt in ("%d.%m.%Y", "%d.%m.%y", "%Y-%m-%d"):
        try:
            return datetime.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def statement_import(*, data, user=None, request=None):
    """Returns {"paid": [numbers], "unmatched": [purposes], "skipped": n}."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252")
    try:
        dialect = csv.Sniffer().sniff(text[:2048], delimiters=";,\t")
    except csv.Error as exc:
        raise ValidationError(_("This file is not a CSV bank statement.")) from exc
    rows = list(csv.reader(io.StringIO(text), dialect))
    if not rows:
        raise ValidationError(_("The statement is empty."))
    cols = {key: _column(rows[0], names) for key, names in HEADINGS.items()}
    if None in cols.values():
        raise ValidationError(_("The statement needs columns for the booking date, the amount and the purpose "
                                "(e.g. Buchungstag, Betrag, Verwendungszweck)."))
    result = {"paid": [], "unmatched": [], "skipped": 0}
    for row in rows[1:]:
        try:
            amount, paid_on, purpose = _amount(row[cols["amount"]]), _date(row[cols["date"]]), row[cols["purpose"]]
        except (IndexError, InvalidOperation, ValueError):
            result["skipped"] += 1
            continue
        if amount <= 0:
            continue
        numbers = NUMBER.findall(purpose)
        invoice = Invoice.objects.open().filter(number__in=numbers).first() if numbers else None
        if invoice is None:
            result["unmatched"].append(purpose[:120])
            continue
        if Payment.objects.filter(invoice=invoice, amount=amount, paid_on=paid_on, reference=purpose[:200]).exists():
            result["skipped"] += 1
            continue
        invoice_mark_paid(invoice=invoice, amount=amount, paid_on=paid_on, reference=purpose, source=Payment.Source.STATEMENT,
                          user=user, request=request)
        result["paid"].append(invoice.number)
    return result
