"""Issued invoices: German data, the e-invoice validates, nothing changes them, corrections, dunning."""

import datetime
import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, InternalError, transaction
from django.urls import reverse
from django.utils import formats, translation

from billing import actions, documents
from billing.datev import datev_csv
from billing.models import Invoice, InvoiceLine, Reminder
from tenants.models import AuditEvent, Tenant
from tests.billing.conftest import at, billable, ordered_server
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued(tenant_a, rows_cluster, plans):
    billable(tenant_a)
    ordered_server(tenant_a, rows_cluster, plans["vm-m"], "web", built=at(2026, 3, 1))
    return actions.invoice_issue(invoice=actions.invoice_draft(tenant=tenant_a, year=2026, month=4))


def test_an_issued_invoice_carries_what_section_14_ustg_asks_for(issued, settings):
    issued = documents.ensure_documents(issued.pk)
    assert issued.number == f"RE-{issued.issue_date.year}-00001"
    assert issued.seller["register_court"] == settings.COMPANY["register_court"] and issued.seller["iban"]
    html = documents.invoice_html(issued)
    with translation.override(issued.language):
        days = [formats.date_format(datetime.date(2026, 4, d), "SHORT_DATE_FORMAT") for d in (1, 30)]
        amounts = [formats.number_format(Decimal(a), 2) for a in ("19.90", "23.68")]
    for text in (*days, *amounts, issued.number, "Alpha GmbH", "Hauptstr. 1", "10115 Berlin", "DE123456789", settings.COMPANY["vat_id"],
                 settings.COMPANY["register_number"], settings.COMPANY["managing_directors"], settings.COMPANY["iban"],
                 ):
        assert text in html, text


def test_the_e_invoice_validates_against_the_factur_x_en16931_schema_and_sits_in_the_pdf(issued):
    from drafthorse.models.document import Document
    from drafthorse.utils import validate_xml
    from pypdf import PdfReader

    issued = documents.ensure_documents(issued.pk)
    validate_xml(xmlout=bytes(issued.xml), schema="FACTUR-X_EN16931")
    parsed = Document.parse(bytes(issued.xml))
    assert str(parsed.header.id) == issued.number
    assert str(parsed.context.guideline_parameter.id) == "urn:cen.eu:en16931:2017"
    reader = PdfReader(io.BytesIO(bytes(issued.pdf)))
    assert bytes(reader.attachments["factur-x.xml"][0]) == bytes(issued.xml)
    assert b"pdfaid:part" in reader.xmp_metadata.stream.get_data() if reader.xmp_metadata else False
    assert "EN 16931" in reader.xmp_metadata.stream.get_data().decode()


def test_the_database_refuses_to_change_an_issued_invoice_or_its_lines(issued):
    for change in (
        lambda: Invoice.objects.filter(pk=issued.pk).update(gross=Decimal("1.00")),
        lambda: Invoice.objects.filter(pk=issued.pk).update(number="RE-1999-00001"),
        lambda: Invoice.objects.filter(pk=issued.pk).update(status="draft", number=""),
        lambda: InvoiceLine.objects.filter(invoice=issued).update(net=Decimal("0.01")),
        lambda: InvoiceLine.objects.filter(invoice=issued).delete(),
        lambda: Invoice.objects.filter(pk=issued.pk).delete(),
    ):
        with pytest.raises((IntegrityError, InternalError)), transaction.atomic():
            change()
    issued.refresh_from_db()
    assert issued.gross == Decimal("23.68") and issued.lines.count() == 1


def test_the_admin_shows_issued_invoices_read_only(issued, dora):
    client = client_for(dora)
    page = client.get(reverse("admin:billing_invoice_change", args=[issued.pk])).content.decode()
    assert issued.number in page and 'name="gross"' not in page
    assert client.post(reverse("admin:billing_invoice_change", args=[issued.pk]), {"gross": "1"}).status_code == 403
    assert client.get(reverse("admin:billing_invoice_delete", args=[issued.pk])).status_code == 403


def test_a_credit_note_references_the_invoice_and_leaves_it_unchanged(issued, dora):
    credit = actions.credit_note_create(invoice=issued, reason="Doppelt berechnet", user=dora)
    issued.refresh_from_db()
    assert credit.number.startswith("RK-") and credit.corrects == issued and credit.gross == issued.gross
    assert issued.status == Invoice.Status.CREDITED
    xml = documents.einvoice_xml(credit).decode()
    assert ">381<" in xml and issued.number in xml
    with pytest.raises(ValidationError):
        actions.credit_note_create(invoice=issued, reason="again", user=dora)


def test_a_tenant_without_a_billing_address_gets_a_clear_message_for_staff_not_an_invoice(tenant_a, rows_cluster, plans, dora):
    ordered_server(tenant_a, rows_cluster, plans["vm-m"], "web", built=at(2026, 3, 1))
    run = actions.billing_run(year=2026, month=4, issue=True)
    draft = Invoice.objects.get(tenant=tenant_a)
    assert draft.status == Invoice.Status.DRAFT and draft.number == ""
    assert "Alpha GmbH has no billing address" in run.problems[0]["problems"][0]
    with pytest.raises(ValidationError, match="no billing address"):
        actions.invoice_issue(invoice=draft, user=dora)
    page = client_for(dora).get(reverse("billing:staff")).content.decode()
    assert "Alpha GmbH has no billing address" in page


def test_an_eu_business_customer_gets_reverse_charge(tenant_a, rows_cluster, plans):
    tenant_a.billing_address, tenant_a.vat_id = "Alpha GmbH\nRingstraße 1\nA-1010 Wien", "ATU12345678"
    tenant_a.save()
    ordered_server(tenant_a, rows_cluster, plans["vm-m"], "web", built=at(2026, 3, 1))
    invoice = actions.invoice_issue(invoice=actions.invoice_draft(tenant=tenant_a, year=2026, month=4))
    assert (invoice.net, invoice.vat, invoice.gross) == (Decimal("19.90"), Decimal("0.00"), Decimal("19.90"))
    assert "13b" in invoice.note
    assert ">AE<" in documents.einvoice_xml(invoice).decode()


def test_staff_without_the_billing_permission_cannot_issue(tenant_a, rows_cluster, plans, otto):
    from django.core.exceptions import PermissionDenied

    billable(tenant_a)
    ordered_server(tenant_a, rows_cluster, plans["vm-m"], "web", built=at(2026, 3, 1))
    draft = actions.invoice_draft(tenant=tenant_a, year=2026, month=4)
    with pytest.raises(PermissionDenied):
        actions.invoice_issue(invoice=draft, user=otto)


def test_overdue_invoices_go_through_the_reminder_levels_then_suspend_and_payment_unsuspends(issued, dora):
    due = issued.due_date
    for day, level in ((6, 0), (7, 1), (14, 2), (21, 3), (28, 3)):
        actions.dunning_run(today=due + datetime.timedelta(days=day))
        issued.refresh_from_db()
        assert issued.dunning_level == level, day
    assert Tenant.objects.get(pk=issued.tenant_id).status == Tenant.Status.ACTIVE
    actions.dunning_run(today=due + datetime.timedelta(days=29))
    assert Tenant.objects.get(pk=issued.tenant_id).status == Tenant.Status.SUSPENDED
    actions.dunning_run(today=due + datetime.timedelta(days=30))
    assert list(Reminder.objects.filter(invoice=issued).values_list("level", flat=True)) == [1, 2, 3]
    actions.invoice_mark_paid(invoice=issued, user=dora)
    assert Tenant.objects.get(pk=issued.tenant_id).status == Tenant.Status.ACTIVE
    trail = list(AuditEvent.objects.filter(tenant=issued.tenant).values_list("action", flat=True))
    for action in ("invoice.issued", "invoice.reminder", "billing.suspended", "tenant.suspend", "invoice.paid",
                   "tenant.unsuspend", "billing.unsuspended"):
        assert action in trail, action


def test_the_activity_log_tells_of_a_draft_and_its_invoice_in_each_readers_language(issued, alice):
    entries = {e.action: e for e in AuditEvent.objects.filter(tenant=issued.tenant)}
    with translation.override("en"):
        assert entries["invoice.drafted"].description == "Invoice draft Alpha GmbH 2026-04 created"
        assert entries["invoice.issued"].description == f"Invoice {issued.number} issued"
    with translation.override("de"):
        assert entries["invoice.drafted"].description == "Rechnungsentwurf Alpha GmbH 2026-04 erstellt"
        assert entries["invoice.issued"].description == f"Rechnung {issued.number} ausgestellt"


def test_a_bank_statement_pays_the_invoice_it_names_once(issued, dora):
    from billing.statements import statement_import

    csv = ("Buchungstag;Verwendungszweck;Betrag\n"
           f"05.05.2026;Rechnung {issued.number} Alpha GmbH;23,68\n"
           "05.05.2026;Miete Mai;-1.200,00\n05.05.2026;Irgendwas;10,00\n").encode("cp1252")
    result = statement_import(data=csv, user=dora)
    assert result["paid"] == [issued.number] and result["unmatched"] == ["Irgendwas"]
    issued.refresh_from_db()
    assert issued.status == Invoice.Status.PAID
    assert statement_import(data=csv, user=dora)["paid"] == []


def test_the_datev_export_books_each_invoice_on_the_debtor_against_revenue(issued):
    text = datev_csv(year=issued.issue_date.year, month=issued.issue_date.month).decode("cp1252")
    header, columns, row = text.splitlines()
    assert header.startswith("EXTF;700;21;Buchungsstapel") and columns.startswith("Umsatz (ohne Soll/Haben-Kz);")
    assert row.split(";")[:8] == ["23,68", "S", "EUR", "", "", "", str(10000 + issued.tenant_id), "8400"]
    assert issued.number in row
