"""The order wizard in a browser: a Windows image brings its licence into the price, and choosing
the image after typing keeps what was typed."""

import re
from decimal import Decimal

import pytest
from django.apps import apps
from playwright.sync_api import expect

from provisioning.models import Server
from services.catalogue import install
from services.models import Order, Plan
from tests.conftest import make_tenant, make_user
from tests.provisioning.conftest import cluster, pve, sim, vm_image, windows_image  # noqa: F401 - fixtures

from .conftest import screenshot
from .test_admin import sign_in

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("locale, licence, total", [
    ("de-DE", "Windows Server Standard (SPLA), 2 Kerne, je 2 Kerne (4 × 4,90 €)", "39,50 €"),
    ("en-GB", "Windows Server Standard (SPLA), 2 cores, per 2 cores (4 × 4.90 €)", "39.50 €"),
])
def test_a_windows_server_is_ordered_with_its_licence_in_the_price(
    browser, live_server, vm_image, windows_image, locale, licence, total  # noqa: F811
):
    install(apps)  # the licence prices, which an earlier test's flush may have emptied
    Plan.objects.create(name="VM M", slug="vm-m", kind="qemu", cores=2, memory_mb=4096, disk_gb=40, price_monthly=Decimal("19.90"))
    make_tenant("Alpha GmbH", "alpha", owner=make_user("alice@example.com"))
    context = browser.new_context(base_url=live_server.url, locale=locale, viewport={"width": 1366, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    sign_in(page, "alice@example.com")
    page.goto("/order/?kind=qemu")
    page.locator("label.plan-choice", has_text="VM M").locator("input").check()
    summary = page.locator("#order-summary")
    expect(summary).to_contain_text("19")
    expect(summary).not_to_contain_text("SPLA")
    # Typed first, then the image chosen: the summary follows, the typed password stays.
    page.fill("input[name=hostname]", "dc")
    page.fill("input[name=password]", "server-password-1")
    page.select_option("select[name=image]", label="Windows Server 2022")
    expect(summary).to_contain_text(licence)
    expect(summary).to_contain_text(total)
    expect(page.locator("input[name=password]")).to_have_value("server-password-1")
    screenshot(page, f"order-windows-{locale}")
    page.click("button[name=place]")
    expect(page).to_have_url(re.compile(r"/servers/[0-9a-f-]{36}/$"))
    order = Order.objects.get()
    assert order.server.hostname == "dc" and order.licences[0]["code"] == "windows-server-std"
    assert Server.objects.count() == 1
    context.close()
