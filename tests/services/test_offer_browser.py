"""The sales journey in a real browser: sample offer -> tier and duty -> PDF -> accepted -> customer sees servers."""

import io
import re
import subprocess

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from provisioning.models import Server
from tests.conftest import PASSWORD, make_user
from tests.e2e.conftest import ARTIFACTS, PDF_TIMEOUT, browser, chromium, link_in_last_mail, page, screenshot  # noqa: F401
from tests.provisioning.conftest import wait_for, windows_image  # noqa: F401

from .conftest import make_seller

pytestmark = pytest.mark.e2e
CONTACT = "erika.mustermann@musterkunde.example"


def pve_config(server):
    from provisioning.proxmox import PVE

    return PVE(server.cluster).guest_config(node=server.node.name, kind="qemu", vmid=server.vmid)


def sign_in(page, email):  # noqa: F811
    page.goto("/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")


def test_sales_turns_the_sample_customer_into_running_infrastructure(
    page, browser, live_server, settings, plans, cluster, ct_image, vm_image, windows_image, worker  # noqa: F811
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
    # VDS 189.00, ten duties 149.00, four managed servers 120.00, 5 RDS and 5 SQL users 109.00, and
    # Windows Server for the three Windows VMs at the 8-core minimum 58.80.
    expect(monthly).to_have_text("625.80 €")
    expect(page.locator("#price")).to_contain_text("Windows Server Standard (SPLA) for crm")
    screenshot(page, "sales-offer-sample")

    # "mittel" brings its own split: the customer keeps snapshots, rollbacks and the applications.
    page.select_option("select[name=tier]", label="mittel")
    expect(page.locator("[data-testid=involvement]")).to_contain_text("Customer involvement medium")
    expect(page.locator("select[name=duty_telephony]")).to_have_value("customer")
    expect(monthly).to_have_text("510.80 €")
    page.select_option("select[name=duty_snapshots]", "jiku")
    expect(monthly).to_have_text("523.80 €")
    expect(page.locator("#price")).to_contain_text("Managed by JIKU: Snapshots")
    page.click("text=Save as new revision")
    expect(page.locator(".messages")).to_contain_text("revision 2")
    screenshot(page, "sales-offer-mittel")

    with page.expect_download(timeout=PDF_TIMEOUT) as download:
        page.click("text=Download PDF", timeout=PDF_TIMEOUT)
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
    with customer.expect_download(timeout=PDF_TIMEOUT) as download:
        customer.click("text=Download the accepted offer as a PDF", timeout=PDF_TIMEOUT)
    accepted_pdf = download.value.path().read_bytes()
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(accepted_pdf)).pages)
    assert "Accepted with obligation to pay" in text and "Erika Mustermann" in text
    assert "Windows Server Standard (SPLA)" in text and "Customer involvement medium" in text
    for number, png in enumerate(render_pages(accepted_pdf, "offer-en-accepted"), start=1):
        customer.goto(f"file://{png}")
        screenshot(customer, f"offer-en-accepted-page-{number}")

    page.reload()
    expect(page.locator("[data-testid=offer-state]")).to_have_text("Accepted")
    expect(page.locator("[data-testid=acceptance]")).to_contain_text("online by the customer")
    screenshot(page, "sales-offer-accepted")

    customer.goto(link_in_last_mail(CONTACT, r"https?://\S+/invitations/\S+/"))  # the worker mails it
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
    # The Windows workloads are Windows VMs, set up the way cloudbase-init reads them.
    crm = Server.objects.get(tenant=nextcloud.tenant, hostname="crm")
    wait_for(lambda: Server.objects.get(pk=crm.pk).status == Server.Status.RUNNING, timeout=60, message="crm running")
    crm.refresh_from_db()
    config = pve_config(crm)
    assert (config["ostype"], config["citype"], config["ciuser"]) == ("win11", "configdrive2", "Administrator")
    customer.goto(f"/servers/{crm.public_id}/")
    expect(customer.locator("main")).to_contain_text("Remote Desktop (RDP)")
    customer.goto("/servers/")
    customer.click("text=nextcloud")
    expect(customer.locator("main")).to_contain_text("pve · ID 100")


def render_pages(pdf_bytes, name):
    """Every page of the PDF as a PNG in test-artifacts/, to look at; returns the page files."""
    ARTIFACTS.mkdir(exist_ok=True)
    pdf = ARTIFACTS / f"{name}.pdf"
    pdf.write_bytes(pdf_bytes)
    for old in ARTIFACTS.glob(f"{name}-page*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-r", "60", "-png", str(pdf), str(ARTIFACTS / f"{name}-page")], check=True)
    pages = sorted(ARTIFACTS.glob(f"{name}-page*.png"))
    assert len(pages) == len(PdfReader(io.BytesIO(pdf_bytes)).pages) and all(p.stat().st_size > 5000 for p in pages)
    return pages


def test_a_german_prospect_signs_online_and_gets_windows_servers_and_licences_as_sold(
    browser, live_server, settings, plans, cluster, ct_image, vm_image, windows_image  # noqa: F811
):
    from services import actions
    from services.models import Contract, Order

    settings.SITE_URL = live_server.url
    seller = make_seller("vera@jiku.example")
    offer = actions.offer_send(offer=actions.offer_create_sample(user=seller, language="de", cluster=cluster), user=seller)
    customer = browser.new_context(base_url=live_server.url, locale="de-DE").new_page()
    customer.goto(actions.offer_link_url(offer=offer))
    expect(customer.locator("h1")).to_contain_text("Angebot A-")
    main = customer.locator("main, body").first
    expect(main).to_contain_text("Windows Server Standard (SPLA) für crm")
    expect(main).to_contain_text("je 2 virtuelle Kerne, mindestens 8 Kerne je Server")
    with customer.expect_download(timeout=PDF_TIMEOUT) as download:
        customer.click("text=Angebot als PDF herunterladen", timeout=PDF_TIMEOUT)
    pdf = download.value.path().read_bytes()
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "Musterkunde GmbH" in text and "Zahlungspflichtig annehmen" not in text
    assert "SQL Server Standard SAL" in text and "Mitwirkung gering" in text and "Lizenzen" in text
    for number, png in enumerate(render_pages(pdf, "offer-de"), start=1):
        customer.goto(f"file://{png}")
        screenshot(customer, f"offer-de-page-{number}")

    customer.goto(actions.offer_link_url(offer=offer))
    customer.fill("input[name=name]", "Erika Mustermann")
    customer.fill("input[name=position]", "Geschäftsführerin")
    customer.check("input[name=confirmed]")
    customer.click("text=Zahlungspflichtig annehmen")
    expect(customer.locator("[data-testid=accepted]")).to_contain_text("Erika Mustermann (Geschäftsführerin)")

    contract = Contract.objects.get(offer=offer)
    assert [(x["code"], x["quantity"]) for x in contract.fees["licences"]] == [("rds-sal", 5), ("sql-server-std-sal", 5)]
    windows = Order.objects.filter(offer=offer, image=windows_image).order_by("hostname")
    assert [o.hostname for o in windows] == ["crm", "dc", "terminal"]
    assert all(o.licences[0]["code"] == "windows-server-std" for o in windows)
    assert Order.objects.get(offer=offer, hostname="nextcloud").licences == []
