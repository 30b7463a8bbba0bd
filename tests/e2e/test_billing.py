"""In the browser: the customer's billing page in German and English, and the invoice PDF's pages."""

import shutil
import subprocess

import pytest
from playwright.sync_api import expect

from billing import actions
from tests.billing.conftest import at, billable, ordered_server, plans, rows_cluster, tier  # noqa: F401 - fixtures
from tests.conftest import PASSWORD

from .conftest import ARTIFACTS, PDF_TIMEOUT, screenshot

pytestmark = pytest.mark.e2e


def sign_in(page, email):
    page.goto("/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def test_a_customer_reads_costs_and_downloads_the_invoice_whose_pages_render(page, tenant_a, rows_cluster, plans, tier):  # noqa: F811
    from tests.billing.conftest import start_contract

    billable(tenant_a)
    start_contract(tenant_a, tier, at(2026, 3, 1))
    ordered_server(tenant_a, rows_cluster, plans["vm-m"], "web", built=at(2026, 3, 1))
    ordered_server(tenant_a, rows_cluster, plans["vm-s"], "db", built=at(2026, 4, 10))
    invoice = actions.invoice_issue(invoice=actions.invoice_draft(tenant=tenant_a, year=2026, month=4))
    sign_in(page, "alice@example.com")
    page.goto("/billing/")
    expect(page.locator("h1")).to_have_text("Billing")
    expect(page.get_by_test_id("forecast")).to_contain_text("€")
    expect(page.locator("td", has_text=invoice.number)).to_be_visible()
    screenshot(page, "billing-en")
    page.locator("form.langswitch button[value=de]").click()
    expect(page.locator("h1")).to_have_text("Abrechnung")
    expect(page.get_by_text("Prognose bis zum Monatsende")).to_be_visible()
    screenshot(page, "billing-de")
    with page.expect_download(timeout=PDF_TIMEOUT) as download:
        page.locator("a", has_text="PDF").first.click(timeout=PDF_TIMEOUT)
    pdf = ARTIFACTS / f"{invoice.number}.pdf"
    ARTIFACTS.mkdir(exist_ok=True)
    download.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm is not installed (apt-get install poppler-utils)")
    subprocess.run(["pdftoppm", "-r", "50", "-png", str(pdf), str(ARTIFACTS / "invoice-page")], check=True)
    pages = sorted(ARTIFACTS.glob("invoice-page*.png"))
    assert pages and all(p.stat().st_size > 5000 for p in pages)
    # The rendered page itself, seen by the browser: the number and the total are on it.
    page.goto(f"file://{pages[0]}")
    screenshot(page, "invoice-page-1")
