"""The server page follows the server's state by itself: power buttons, status and messages without a reload."""

import datetime
import zoneinfo

import pytest
from playwright.sync_api import expect

from provisioning import actions
from tests.conftest import make_tenant, make_user
from tests.provisioning.conftest import cluster, ct_image, pve, sim, worker  # noqa: F401 - fixtures

from .conftest import screenshot
from .test_admin import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("worker")]


def power(page, label):
    return page.get_by_test_id("power").get_by_role("button", name=label, exact=True)


def test_power_buttons_follow_the_state_without_a_reload(page, ct_image):  # noqa: F811
    alice = make_user("alice@example.com")
    tenant = make_tenant("Alpha GmbH", "alpha", owner=alice)
    server = actions.server_create(tenant=tenant, image=ct_image, hostname="web-01", cores=1, memory_mb=512, disk_gb=8,
                                   password="long-enough-1")
    sign_in(page, "alice@example.com")
    page.goto(f"/servers/{server.public_id}/")
    # Anything that reloads the page would drop this mark.
    page.evaluate("window.stillTheSamePage = true")

    # Freshly built: the block that watched the build now offers what a running server can do.
    expect(page.get_by_test_id("server-status")).to_have_text("Running", timeout=30_000)
    expect(power(page, "Stop")).to_be_enabled()
    expect(power(page, "Shut down")).to_be_enabled()
    expect(power(page, "Reboot")).to_be_enabled()
    expect(power(page, "Start")).to_be_disabled()

    page.once("dialog", lambda dialog: dialog.accept())
    power(page, "Stop").click()
    expect(page.locator("#messages")).to_contain_text("Stop is queued; this page shows when it is done.")
    expect(page.get_by_test_id("server-status")).to_have_text("Stopped", timeout=30_000)
    expect(power(page, "Start")).to_be_enabled()
    expect(power(page, "Stop")).to_be_disabled()
    # "Queued" was said at the click; "done" only once Proxmox has done it.
    expect(page.locator("#messages")).to_have_text("Stop is done.")
    screenshot(page, "en-server-stopped")

    power(page, "Start").click()
    expect(page.locator("#messages")).to_contain_text("Start is queued")
    expect(page.get_by_test_id("server-status")).to_have_text("Running", timeout=30_000)
    expect(power(page, "Stop")).to_be_enabled()
    expect(power(page, "Start")).to_be_disabled()
    expect(page.locator("#messages")).to_have_text("Start is done.")
    assert page.evaluate("window.stillTheSamePage") is True


def test_a_cancelled_stop_confirmation_sends_nothing(page, ct_image):  # noqa: F811
    alice = make_user("alice@example.com")
    tenant = make_tenant("Alpha GmbH", "alpha", owner=alice)
    server = actions.server_create(tenant=tenant, image=ct_image, hostname="web-01", cores=1, memory_mb=512, disk_gb=8,
                                   password="long-enough-1")
    sign_in(page, "alice@example.com")
    page.goto(f"/servers/{server.public_id}/")
    expect(power(page, "Stop")).to_be_enabled(timeout=30_000)
    page.once("dialog", lambda dialog: dialog.dismiss())
    power(page, "Stop").click()
    page.wait_for_timeout(500)
    assert not server.operations.filter(kind="stop").exists()
    expect(page.get_by_test_id("server-status")).to_have_text("Running")


def test_the_restore_form_asks_to_replace_the_data_only_when_restoring_over_the_same_server(page, ct_image):  # noqa: F811
    from django.utils import timezone

    from provisioning.models import Backup

    alice = make_user("alice@example.com")
    tenant = make_tenant("Alpha GmbH", "alpha", owner=alice)
    server = actions.server_create(tenant=tenant, image=ct_image, hostname="web-01", cores=1, memory_mb=512, disk_gb=8,
                                   password="long-enough-1")
    Backup.objects.create(tenant=tenant, server=server, cluster=server.cluster, node="pve", storage="backup", kind="lxc",
                          volid="backup:backup/vzdump-lxc-100-2026_11_26-01_00_00.tar.zst", hostname="web-01",
                          created_at=timezone.now())
    sign_in(page, "alice@example.com")
    page.goto("/backups/")
    form = page.locator("form.restore")
    expect(form.locator("input[name=confirm]")).to_be_hidden()
    expect(form.locator("input[name=hostname]")).to_be_visible()
    form.locator("select[name=target]").select_option("same")
    expect(form.locator("input[name=confirm]")).to_be_visible()
    expect(form.locator("input[name=hostname]")).to_be_hidden()
    screenshot(page, "en-backups-restore-same")


@pytest.mark.parametrize("lang", ["en", "de"])
def test_a_chart_shows_the_value_under_the_cursor(browser, live_server, settings, ct_image, pve, lang):  # noqa: F811
    import re

    settings.LANGUAGE_CODE = lang
    alice = make_user("alice@example.com")
    tenant = make_tenant("Alpha GmbH", "alpha", owner=alice)
    server = actions.server_create(tenant=tenant, image=ct_image, hostname="web-01", cores=1, memory_mb=512, disk_gb=8,
                                   password="long-enough-1")
    # A browser far from the tenant: the charts tell the tenant's time (Europe/Berlin) like the page.
    context = browser.new_context(base_url=live_server.url, locale=f"{lang}-DE", viewport={"width": 1366, "height": 900},
                                  timezone_id="America/New_York")
    context.set_default_timeout(15_000)
    page = context.new_page()
    sign_in(page, "alice@example.com")
    page.goto(f"/servers/{server.public_id}/")
    expect(page.get_by_test_id("server-status")).not_to_have_text(re.compile("Building|Wird erstellt"), timeout=30_000)
    server.refresh_from_db()
    # Two busy minutes forty minutes ago: the hour shows them, and so must the week's peak.
    pve.add_load(vmid=server.vmid, cpu=0.95, seconds=120, ago=2400)
    page.reload()
    graphs = page.get_by_test_id("server-tabs").get_by_role("link", name="Graphs" if lang == "en" else "Diagramme", exact=True)
    graphs.click()
    expect(page).to_have_url(re.compile(r"/graphs/$"))
    expect(graphs).to_have_attribute("aria-current", "page")
    chart = page.get_by_test_id("chart-cpu")
    expect(chart.locator("canvas")).to_be_visible(timeout=20_000)
    box = chart.locator(".u-over").bounding_box()
    chart.scroll_into_view_if_needed()
    box = chart.locator(".u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] / 2, steps=5)
    values = chart.locator(".u-legend .u-value")
    expect(values.nth(1)).to_have_text(re.compile(r"^\d+([.,]\d)? %$"))
    expect(values.nth(0)).to_have_text(re.compile(r"\d{2}:\d{2}"))
    berlin = datetime.datetime.now(zoneinfo.ZoneInfo("Europe/Berlin"))
    hour = int(re.search(r"(\d{2}):\d{2}", values.nth(0).inner_text()).group(1))
    assert hour in {berlin.hour, (berlin - datetime.timedelta(hours=1)).hour}, (hour, berlin)
    week = page.get_by_role("button", name="Week" if lang == "en" else "Woche")
    week.click()
    expect(week).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("chart-network").locator("canvas")).to_be_visible(timeout=20_000)
    expect(page.get_by_test_id("peak-cpu")).to_have_text("95 %")
    box = chart.locator(".u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] / 2, steps=5)
    # The day before the month in English too, as the portal's pages write it ("7 Dec, 13:57", not "Dec 7").
    expect(chart.locator(".u-legend .u-value").nth(0)).to_have_text(re.compile(r"^\d{1,2}\.? \w+\.?,? \d{2}:\d{2}$"))
    screenshot(page, f"{lang}-server-graphs")
    context.close()


@pytest.mark.parametrize("lang", ["en", "de"])
def test_the_sections_are_tabs_with_their_own_urls_on_a_phone_too(browser, live_server, settings, ct_image, lang):  # noqa: F811
    import re

    settings.LANGUAGE_CODE = lang
    names = {"en": ["Overview", "Graphs", "Snapshots", "Backups", "Settings", "Danger zone"],
             "de": ["Übersicht", "Diagramme", "Snapshots", "Backups", "Einstellungen", "Gefahrenbereich"]}[lang]
    alice = make_user("alice@example.com")
    tenant = make_tenant("Alpha GmbH", "alpha", owner=alice)
    server = actions.server_create(tenant=tenant, image=ct_image, hostname="web-01", cores=1, memory_mb=512, disk_gb=8,
                                   password="long-enough-1")
    context = browser.new_context(base_url=live_server.url, locale=f"{lang}-DE", viewport={"width": 390, "height": 844},
                                  is_mobile=True, has_touch=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    sign_in(page, "alice@example.com")
    page.goto(f"/servers/{server.public_id}/")
    expect(page.get_by_test_id("server-status")).not_to_have_text(re.compile("Building|Wird erstellt"), timeout=30_000)
    tabs = page.get_by_test_id("server-tabs")
    for name, path in zip(names, ["", "graphs/", "snapshots/", "backups/", "settings/", "danger/"], strict=True):
        link = tabs.get_by_role("link", name=name, exact=True)
        link.scroll_into_view_if_needed()
        link.click()
        expect(page).to_have_url(f"{live_server.url}/servers/{server.public_id}/{path}")
        expect(link).to_have_attribute("aria-current", "page")
        expect(link).to_be_in_viewport()  # the tab row scrolls to the section that is open
        # The status and the power buttons stay at hand in every section: customers restart from their phone.
        expect(power(page, "Reboot" if lang == "en" else "Neu starten")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{name} scrolls sideways"
        if path in ("", "settings/"):
            screenshot(page, f"{lang}-phone-server-{path.strip('/') or 'overview'}")
    # A section's URL opens that section directly: it can be linked.
    page.goto(f"/servers/{server.public_id}/backups/")
    expect(tabs.get_by_role("link", name="Backups", exact=True)).to_have_attribute("aria-current", "page")
    context.close()
