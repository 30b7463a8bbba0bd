"""The customer's billing page and downloads; the Billing staff role's pages."""

from decimal import Decimal

import pytest
from django.urls import reverse

from billing import actions
from billing.models import Invoice, Rate
from billing.views import current_costs
from services.models import Order
from tenants.models import Membership, Role
from tests.billing.conftest import at, billable, ordered_server
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def invoiced(tenant_a, rows_cluster, plans):
    billable(tenant_a)
    server = ordered_server(tenant_a, rows_cluster, plans["vm-m"], "web", built=at(2026, 3, 1))
    invoice = actions.invoice_issue(invoice=actions.invoice_draft(tenant=tenant_a, year=2026, month=4))
    return invoice, server


def test_owners_see_costs_so_far_a_forecast_and_their_invoices(alice_client, invoiced):
    invoice, _server = invoiced
    page = alice_client.get(reverse("billing:billing")).content.decode()
    assert invoice.number in page and "web · VM M" in page
    assert "Costs so far in" in page and "Forecast to the month" in page
    assert reverse("billing:invoice_download", args=[invoice.public_id, "pdf"]) in page


def test_the_forecast_is_the_whole_month_at_todays_size_and_so_far_is_less(tenant_a, invoiced):
    costs = current_costs(tenant_a)
    assert costs["forecast"] == Decimal("19.90") and Decimal("0") <= costs["so_far"] <= costs["forecast"]


def test_a_servers_licence_is_its_own_row_beside_the_plan(alice_client, tenant_a, rows_cluster, plans):
    billable(tenant_a)
    server = ordered_server(tenant_a, rows_cluster, plans["vm-m"], "crm", built=at(2026, 3, 1), price=0)
    Order.objects.filter(server=server).update(licences=[
        {"code": "win", "name": "Windows Server Standard (SPLA)", "price": "4.90", "pack": 2, "minimum": 8}])
    rows = {row["description"]: row["forecast"] for row in current_costs(tenant_a, now=at(2026, 4, 10))["rows"]}
    assert rows == {"crm · VM M": Decimal("0.00"), "Windows Server Standard (SPLA) · crm": Decimal("19.60")}


def test_a_customer_sees_the_price_of_a_resize_before_taking_it(alice_client, invoiced):
    _invoice, server = invoiced
    Rate.objects.create(code="core", amount="5.00", valid_from=at(2026, 1, 1))
    page = alice_client.get(reverse("billing:billing"), {"server": server.pk, "cores": 4, "memory_gb": "4", "disk_gb": 80},
                            headers={"HX-Request": "true"}).content.decode()
    assert "web costs 19.90 € a month now and 29.90 € at the new size" in page
    assert reverse("provisioning:server_detail", args=[server.public_id]) in page


def test_the_pdf_and_the_e_invoice_download(alice_client, invoiced):
    invoice, _server = invoiced
    pdf = alice_client.get(reverse("billing:invoice_download", args=[invoice.public_id, "pdf"]))
    xml = alice_client.get(reverse("billing:invoice_download", args=[invoice.public_id, "xml"]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert xml.content.startswith(b"<?xml") and invoice.number.encode() in xml.content


def test_other_tenants_invoices_answer_404(charlie_client, invoiced):
    invoice, _server = invoiced
    for kind in ("pdf", "xml"):
        assert charlie_client.get(reverse("billing:invoice_download", args=[invoice.public_id, kind])).status_code == 404


def test_drafts_are_not_downloadable_and_members_do_not_see_billing(alice_client, bob_client, tenant_a, rows_cluster, plans):
    billable(tenant_a)
    ordered_server(tenant_a, rows_cluster, plans["vm-m"], "web", built=at(2026, 3, 1))
    draft = actions.invoice_draft(tenant=tenant_a, year=2026, month=4)
    assert alice_client.get(reverse("billing:invoice_download", args=[draft.public_id, "pdf"])).status_code == 404
    assert Membership.objects.get(tenant=tenant_a, user__email="bob@example.com").role == Role.MEMBER
    assert bob_client.get(reverse("billing:billing")).status_code == 403


def test_the_billing_role_runs_issues_and_records_payments_but_operates_nothing(bill, tenant_a, rows_cluster, plans):
    billable(tenant_a)
    ordered_server(tenant_a, rows_cluster, plans["vm-m"], "web", built=at(2026, 3, 1))
    client = client_for(bill)
    actions.billing_run(year=2026, month=4, issue=False)
    draft = Invoice.objects.get(tenant=tenant_a)
    assert client.get(reverse("billing:staff")).status_code == 200
    client.post(reverse("billing:staff_invoice", args=[draft.public_id]), {"step": "issue"})
    draft.refresh_from_db()
    assert draft.status == Invoice.Status.ISSUED
    client.post(reverse("billing:staff_invoice", args=[draft.public_id]), {"step": "paid", "pay-paid_on": "2026-05-10"})
    draft.refresh_from_db()
    assert draft.status == Invoice.Status.PAID
    assert client.get(reverse("staff:overview")).status_code == 403
