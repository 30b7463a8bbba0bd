"""The whole customer journey in the browser, against pvesim, PostgreSQL and a real Celery worker."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from provisioning.models import Operation, Server
from services.models import Plan
from tests.provisioning.conftest import cluster, ct_image, pve, sim, vm_image, wait_for, worker  # noqa: F401

from .conftest import link_in_last_mail, screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("vm_image", "ct_image", "worker", "plans")]


@pytest.fixture
def plans(db):
    Plan.objects.create(name="Container S", slug="ct-s", kind="lxc", cores=1, memory_mb=1024, disk_gb=8, price_monthly=Decimal("4.99"))
    Plan.objects.create(name="VM M", slug="vm-m", kind="qemu", cores=1, memory_mb=1024, disk_gb=10, price_monthly=Decimal("9.99"))
PASSWORD = "a-long-passphrase-7"
WORDS = {
    "en": {"running": "Running", "stopped": "Stopped", "shutdown": "Shut down", "start": "Start", "snapshot": "Take snapshot",
           "rollback": "Roll back", "backup": "Back up now", "restore": "Restore", "delete": "Delete",
           "tab_snapshots": "Snapshots", "tab_backups": "Backups", "tab_danger": "Danger zone"},
    "de": {"running": "Läuft", "stopped": "Gestoppt", "shutdown": "Herunterfahren", "start": "Starten", "snapshot": "Snapshot erstellen",
           "rollback": "Zurücksetzen", "backup": "Backup jetzt erstellen", "restore": "Wiederherstellen", "delete": "Löschen",
           "tab_snapshots": "Snapshots", "tab_backups": "Backups", "tab_danger": "Gefahrenbereich"},
}


def tab(page, words, key):
    """Open a section of the server page through its tab: its own URL, the tab marked as the current one."""
    link = page.get_by_test_id("server-tabs").get_by_role("link", name=words[f"tab_{key}"], exact=True)
    link.click()
    expect(page).to_have_url(re.compile(rf"/servers/[0-9a-f-]{{36}}/{key}/$"))
    expect(link).to_have_attribute("aria-current", "page")


def settle():
    wait_for(lambda: not Operation.objects.filter(state__in=Operation.ACTIVE_STATES).exists(), timeout=60, message="operations")


def sign_up(page, email, tenant_name):
    page.goto("/accounts/signup/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.click("main form button[type=submit]")
    page.goto(link_in_last_mail(email, r"https?://\S+/accounts/confirm-email/\S+"))
    page.click("main form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/welcome/$"))
    page.fill("input[name=name]", tenant_name)
    page.click("main form button[type=submit]")


def order(page, words, kind, plan, image, hostname):
    """Through the order wizard: type, plan, image, name, password, then the priced summary."""
    page.goto("/order/")
    page.check(f"input[name=kind][value={kind}]")
    page.wait_for_load_state("networkidle")
    page.locator("label.plan-choice", has_text=plan).locator("input").check()
    page.wait_for_load_state("networkidle")
    expect(page.locator("#order-summary")).to_contain_text("€")
    screenshot(page, f"order-{kind}")
    page.select_option("select[name=image]", label=image)
    page.fill("input[name=hostname]", hostname)
    page.fill("input[name=password]", "server-password-1")
    page.click("button[name=place]")
    expect(page).to_have_url(re.compile(r"/servers/[0-9a-f-]{36}/$"))


def press(page, label):
    """Click an action button and wait until it is queued: power buttons post through htmx, so the
    click returns before the operation exists, and a page load right after it would cancel it."""
    before = Operation.objects.count()
    page.once("dialog", lambda dialog: dialog.accept())
    page.click(f"main button:has-text('{label}')")
    wait_for(lambda: Operation.objects.count() > before, timeout=30, message=f"{label} queued")


def journey(page, live_server, settings, lang):
    words = WORDS[lang]
    settings.SITE_URL = live_server.url
    sign_up(page, f"erika-{lang}@example.com", f"Erika {lang} GmbH")

    order(page, words, "lxc", "Container S", "Debian 12 (container)", "files")
    screenshot(page, f"{lang}-server-building")
    # The page follows the build by itself (HTMX polling), no reload.
    expect(page.get_by_test_id("server-status")).to_have_text(words["running"], timeout=30_000)
    expect(page.locator("main")).to_contain_text("ssh root@192.0.2.10")
    order(page, words, "qemu", "VM M", "Debian 12", "app")
    expect(page.get_by_test_id("server-status")).to_have_text(words["running"], timeout=30_000)

    page.goto("/servers/")
    page.click("text=files")
    files_url = page.url
    press(page, words["shutdown"])
    settle()
    page.goto(files_url)
    expect(page.get_by_test_id("server-status")).to_have_text(words["stopped"])
    press(page, words["start"])
    settle()
    page.goto(files_url)
    expect(page.get_by_test_id("server-status")).to_have_text(words["running"])

    tab(page, words, "snapshots")
    page.fill("input[name=name]", "before_change")
    page.click(f"main button:has-text('{words['snapshot']}')")
    settle()
    expect(page).to_have_url(files_url + "snapshots/")
    # No reload by hand: the section loads itself again once the snapshot is taken.
    expect(page.locator("main table")).to_contain_text("before_change", timeout=20_000)
    expect(page.locator("main table")).not_to_contain_text(re.compile("in progress|in Bearbeitung"))
    screenshot(page, f"{lang}-server-snapshots")
    press(page, words["rollback"])
    settle()
    assert Operation.objects.filter(kind="rollback", state="succeeded").count() == 1

    page.goto(files_url)
    tab(page, words, "backups")
    page.click(f"main button:has-text('{words['backup']}')")
    settle()
    page.goto("/backups/")
    screenshot(page, f"{lang}-backups")
    page.select_option("select[name=target]", "new")
    page.fill("input[name=hostname]", "files-copy")
    page.click(f"main button:has-text('{words['restore']}')")
    settle()
    copy = Server.objects.get(hostname="files-copy")
    assert copy.status == Server.Status.RUNNING
    page.goto(f"/servers/{copy.public_id}/")
    screenshot(page, f"{lang}-restored")
    expect(page.get_by_test_id("server-status")).to_have_text(words["running"])

    page.goto(files_url)
    tab(page, words, "danger")
    page.fill("input[name=confirm_hostname]", "files")
    page.click(f"main form:has(input[name=confirm_hostname]) button:has-text('{words['delete']}')")
    settle()
    page.goto("/servers/")
    expect(page.locator("main")).not_to_contain_text(re.compile(r"\bfiles\b(?!-copy)"))
    assert Server.objects.get(hostname="files").status == Server.Status.DELETED
    page.goto("/")
    screenshot(page, f"{lang}-dashboard")


def test_the_customer_journey_in_english(page, live_server, settings):
    journey(page, live_server, settings, "en")


def test_the_customer_journey_in_german(browser, live_server, settings):
    settings.LANGUAGE_CODE = "de"
    context = browser.new_context(base_url=live_server.url, locale="de-DE", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    try:
        journey(context.new_page(), live_server, settings, "de")
    finally:
        context.close()
