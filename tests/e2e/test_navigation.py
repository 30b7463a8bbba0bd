"""The top menu fits one line on a laptop and folds into a menu button on a phone; error pages look like the portal."""

import pytest
from playwright.sync_api import expect

from tenants.staff_roles import ADMIN
from tests.conftest import make_staff, make_tenant

from .conftest import screenshot
from .test_admin import sign_in

pytestmark = pytest.mark.e2e


def context_page(browser, live_server, locale, width, height):
    context = browser.new_context(base_url=live_server.url, locale=locale, viewport={"width": width, "height": height})
    context.set_default_timeout(10_000)
    return context.new_page()


@pytest.mark.parametrize("lang", ["de", "en"])
def test_the_menu_stays_on_one_line_at_1366_pixels(browser, live_server, settings, lang):
    settings.LANGUAGE_CODE = lang
    dora = make_staff("dora@jiku.example", ADMIN)
    make_tenant("Musterfirma GmbH", "muster", owner=dora)
    page = context_page(browser, live_server, f"{lang}-DE", 1366, 800)
    sign_in(page, "dora@jiku.example")
    page.goto("/")
    tops = page.locator(".topbar .brand, .mainnav > a, .navgroup summary, .usermenu > *, .langswitch").evaluate_all(
        "els => els.map(e => Math.round(e.getBoundingClientRect().top + e.getBoundingClientRect().height / 2))")
    assert max(tops) - min(tops) <= 6, tops
    assert page.locator(".topbar").bounding_box()["height"] < 70
    page.locator(".navgroup summary", has_text="JIKU").click()
    expect(page.locator(".navgroup[open] a[href='/staff/']")).to_be_visible()
    screenshot(page, f"{lang}-nav-1366")


def test_on_a_phone_the_menu_opens_from_a_button(browser, live_server):
    make_tenant("Alpha GmbH", "alpha", owner=make_staff("dora@jiku.example", ADMIN))
    page = context_page(browser, live_server, "en-GB", 390, 844)
    sign_in(page, "dora@jiku.example")
    page.goto("/")
    servers = page.locator(".mainnav > a", has_text="Servers")
    expect(servers).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(page.locator(".mainnav a", has_text="SSH keys")).to_be_visible()
    screenshot(page, "en-nav-phone")
    servers.click()
    expect(page).to_have_url(f"{live_server.url}/servers/")


def test_on_a_phone_no_list_page_scrolls_sideways(browser, live_server):
    # Their tables scroll inside themselves; a screen-reader label in a table once widened the page.
    owner = make_staff("dora@jiku.example", ADMIN)
    tenant = make_tenant("Alpha GmbH", "alpha", owner=owner)
    tenant.invitations.create(email="eve@example.com", role="member", invited_by=owner, token="t0k3n-phone")
    page = context_page(browser, live_server, "de-DE", 390, 844)
    sign_in(page, "dora@jiku.example")
    for path in ("/", "/servers/", "/backups/", "/team/", "/ssh-keys/", "/api-tokens/", "/webhooks/", "/activity/"):
        page.goto(path)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{path} scrolls sideways"
    screenshot(page, "de-phone-activity")


def test_the_404_page_is_styled_and_says_what_to_do(browser, live_server):
    page = context_page(browser, live_server, "de-DE", 1366, 800)
    page.goto("/no-such-page/")
    expect(page.locator("main h1")).to_have_text("Diese Seite gibt es nicht")
    screenshot(page, "de-404")
