"""A month's issued invoices and credit notes as a DATEV booking batch (EXTF "Buchungsstapel").

One booking per document and VAT rate: the gross amount on the customer's debtor account against
the revenue account (SKR03 8400 books 19 % VAT automatically; reverse charge goes to 8336).
Credit notes book the other way (H). The header names the consultant and client numbers from the
settings; the columns are the first 14 of DATEV's format 700, which the import accepts.
"""

import csv
import io

from django.conf import settings
from django.utils import timezone

from .metering import month_bounds
from .models import Invoice

COLUMNS = ["Umsatz (ohne Soll/Haben-Kz)", "Soll/Haben-Kennzeichen", "WKZ Umsatz", "Kurs", "Basis-Umsatz",
           "WKZ Basis-Umsatz", "Konto", "Gegenkonto (ohne BU-Schlüssel)", "BU-Schlüssel", "Belegdatum", "Belegfeld 1",
           "Belegfeld 2", "Skonto", "Buchungstext"]


def _amount(value):
    return f"{value:.2f}".replace(".", ",")


def debtor_account(tenant):
    return settings.BILLING_DATEV_DEBTOR_BASE + tenant.pk


def bookings(year, month):
    start, end = month_bounds(year, month)
    docs = (Invoice.objects.exclude(status=Invoice.Status.DRAFT)
            .filter(issue_date__gte=start.date(), issue_date__lt=end.date()).select_related("tenant", "corrects")
            .order_by("number"))
    for invoice in docs:
        for category, _rate, net, vat in invoice.vat_breakdown():
            account = (settings.BILLING_DATEV_REVERSE_CHARGE_ACCOUNT if category == "AE"
                       else settings.BILLING_DATEV_REVENUE_ACCOUNT)
            yield [
                _amount(net + vat), "H" if invoice.is_credit_note else "S", "EUR", "", "", "",
                str(debtor_account(invoice.tenant)), account, "", invoice.issue_date.strftime("%d%m"), invoice.number,
                invoice.corrects.number if invoice.corrects_id else "", "", invoice.tenant.name[:60],
            ]


def datev_csv(*, year, month):
    start, end = month_bounds(year, month)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    fiscal_year_start = f"{year}0101"
    writer.writerow(["EXTF", 700, 21, "Buchungsstapel", 13, timezone.now().strftime("%Y%m%d%H%M%S000"), "", "", "", "",
                     settings.BILLING_DATEV_CONSULTANT, settings.BILLING_DATEV_CLIENT, fiscal_year_start, 4,
                     start.strftime("%Y%m%d"), (end - timezone.timedelta(days=1)).strftime("%Y%m%d"),
                     f"Rechnungen {month:02d}/{year}", "", 1, 0, 0, "EUR"])
    writer.writerow(COLUMNS)
    for row in bookings(year, month):
        writer.writerow(row)
    return out.getvalue().encode("cp1252", errors="replace")
