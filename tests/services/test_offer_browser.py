"""The sales journey in a real browser: sample offer -> tier and duty -> PDF -> accepted -> customer sees servers."""

import io
import re

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from provisioning.models import Server
from tests.conftest import PASSWORD, make_user
from tests.e2e.conftest import browser, link_in_last_mail, page, screenshot  # noqa: F401
from tests.provisioning.conftest import wait_for

from .conftest import make_seller

pytestmark = pytest.mark.e2e
CONTACT = "erika.mustermann@musterkunde.example"


def sign_in(page, email):  # noqa: F811
    page.goto("/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")


def test_sales_turns_the_sample_customer_into_running_infrastructure(
    page, browser, live_server, settings, plans, cluster, ct_image, vm_image, worker  # noqa: F811
):
    settings.SITE_URL = live_server.url
    make_seller("vera@jiku.example")
    make_user(CONTACT)
    sign_in(page, "vera@jiku.example")
    page.click("header summary:has-text('JIKU')")
    page.click("header a:has-text('Sales')")
    page.click("text=New offer from the sample customer")
    expect(page).to_have_url(re.compile(r"/sales/offers/[0-9a-f-]+/$"))
    monthly = page.locator("[data-testid=monthly-net]")
    expect(monthly).to_have_text("494.00 €")
    screenshot(page, "sales-offer-sample")

    page.select_option("select[name=tier]", label="mittel")
    expect(page.locator("#price")).to_contain_text("Customer involvement medium")
    with_telephony = monthly.inner_text()
    assert with_telephony != "494.00 €"
    page.select_option("select[name=duty_telephony]", "customer")
    expect(monthly).not_to_have_text(with_telephony)
    expect(page.locator("#price")).not_to_contain_text("Managed by JIKU: Telephony setup")
    page.click("text=Save as new revision")
    expect(page.locator(".messages")).to_contain_text("revision 2")
    screenshot(page, "sales-offer-mittel")

    with page.expect_download() as download:
        page.click("text=Download PDF")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(download.value.path().read_bytes())).pages)
    assert "Sample Customer Ltd" in text and "Customer involvement medium" in text
    assert monthly.inner_text().split()[0] in text  # the price on the page is the price in the PDF

    offer_url = page.url
    page.goto(offer_url + "print/")
    expect(page.locator("h1")).to_contain_text("Offer A-")
    screenshot(page, "sales-offer-print")
    page.goto(offer_url)
    page.click("text=Send to the customer")
    expect(page.locator(".messages")).to_contain_text("Offer sent")
    expect(page.locator("[data-testid=customer-link]")).to_be_visible()

    # The prospect accepts online through the mailed link, without an account.
    customer = browser.new_context(base_url=live_server.url, locale="en-GB").new_page()
    customer.goto(link_in_last_mail(CONTACT, r"https?://\S+/offers/\S+"))
    expect(customer.locator("h1")).to_contain_text("Offer A-")
    customer.click("text=Accept with obligation to pay")
    expect(customer.locator("#id_confirmed_error")).to_contain_text("obligation to pay")
    assert not Server.objects.exists()
    customer.fill("input[name=name]", "Erika Mustermann")
    customer.fill("input[name=position]", "Managing director")
    customer.check("input[name=confirmed]")
    screenshot(customer, "sales-offer-online-accept")
    customer.click("text=Accept with obligation to pay")
    expect(customer.locator("[data-testid=accepted]")).to_contain_text("Erika Mustermann (Managing director)")
    screenshot(customer, "sales-offer-online-accepted")
    with customer.expect_download() as download:
        customer.click("text=Download the accepted offer as a PDF")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(download.value.path().read_bytes())).pages)
    assert "Accepted with obligation to pay" in text and "Erika Mustermann" in text

    page.reload()
    expect(page.locator("[data-testid=offer-state]")).to_have_text("Accepted")
    expect(page.locator("[data-testid=acceptance]")).to_contain_text("online by the customer")
    screenshot(page, "sales-offer-accepted")

    customer.goto(link_in_last_mail(CONTACT))
    customer.fill("input[name=login]", CONTACT)
    customer.fill("input[name=password]", PASSWORD)
    customer.click("main form button[type=submit]")
    expect(customer).to_have_url(re.compile(r"/invitations/"))
    customer.click("main form button[type=submit]")
    expect(customer.locator("main")).to_contain_text("Sample Customer Ltd")

    nextcloud = Server.objects.get(tenant__name="Sample Customer Ltd", hostname="nextcloud")
    wait_for(lambda: Server.objects.get(pk=nextcloud.pk).status == Server.Status.RUNNING, timeout=60,
             message="nextcloud running")
    customer.goto("/servers/")
    row = customer.locator("tr", has_text="nextcloud")
    expect(row).to_contain_text("Running")
    expect(row).to_contain_text("pve")
    for vm in ("crm", "terminal", "dc"):
        expect(customer.locator("tr", has_text=vm)).to_contain_text(re.compile("Building|Running"))
    screenshot(customer, "sales-customer-servers")
    customer.click("text=nextcloud")
    expect(customer.locator("main")).to_contain_text("pve · ID 100")
