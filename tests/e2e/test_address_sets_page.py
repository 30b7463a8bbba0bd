"""The address set page in German under the strict CSP: a set added in the form is listed, and
deleting it asks first (the static data-confirm script, no inline handler)."""

import pytest
from playwright.sync_api import expect

from provisioning.models import AddressSet
from tests.conftest import make_tenant, make_user

from .conftest import browser, chromium, csp_watched_page, screenshot  # noqa: F401 - fixtures
from .test_admin import sign_in

pytestmark = pytest.mark.e2e


def test_a_customer_adds_an_address_set_and_sees_it_listed_in_german(browser, live_server):  # noqa: F811
    make_tenant("Alpha GmbH", "alpha", owner=make_user("alice@example.com"))
    page = csp_watched_page(browser, live_server, "de-DE", timeout=15_000)
    sign_in(page, "alice@example.com")
    page.goto("/firewall/address-sets/")
    expect(page.get_by_role("heading", name="Adresslisten", exact=True)).to_be_visible()

    form = page.get_by_test_id("address-set-add")
    form.get_by_label("Name").fill("buero")
    form.get_by_label("Adressen und Netze").fill("203.0.113.0/24\n198.51.100.7")
    form.get_by_label("Beschreibung").fill("Büro Berlin")
    form.get_by_role("button", name="Adressliste hinzufügen").click()

    expect(page.get_by_role("status")).to_contain_text("Die Adressliste buero ist angelegt")
    row = page.get_by_test_id("address-sets").locator("tr", has_text="buero")
    expect(row).to_contain_text("203.0.113.0/24, 198.51.100.7")
    expect(row).to_contain_text("Büro Berlin")
    screenshot(page, "de-address-sets")

    page.once("dialog", lambda dialog: dialog.dismiss())
    row.get_by_role("button", name="Löschen").click()
    expect(row).to_be_visible()
    assert AddressSet.objects.count() == 1, "a dismissed confirmation deletes nothing"
    assert page.violations == []
