"""A section of the server page loads again when an operation finishes, but never over a half-filled form."""

import pytest
from playwright.sync_api import expect

from provisioning.models import Cluster, Node, Operation, Server, Snapshot
from tests.conftest import make_tenant, make_user

from .conftest import browser, chromium, csp_watched_page, screenshot  # noqa: F401 - fixtures
from .test_admin import sign_in

pytestmark = pytest.mark.e2e

@pytest.fixture
def server(transactional_db):
    """Rows only: the sections and the live block read the database, the operation is finished by the test."""
    cluster = Cluster.objects.create(name="C", api_url="127.0.0.1:1", token_id="a@pve!t")
    node = Node.objects.create(cluster=cluster, name="pve", status="online", max_cores=8, max_memory_mb=8192, max_disk_gb=100)
    tenant = make_tenant("Alpha GmbH", "alpha", owner=make_user("alice@example.com"))
    return Server.objects.create(
        tenant=tenant, cluster=cluster, node=node, kind="lxc", hostname="web-01", vmid=100, cores=1, memory_mb=1024,
        disk_gb=8, status="running", ipv4="192.0.2.10",
    )


@pytest.fixture
def running_snapshot(server):
    return Operation.objects.create(tenant=server.tenant, server=server, kind=Operation.Kind.SNAPSHOT,
                                    state=Operation.State.RUNNING, params={"name": "pre_upgrade_42"})


def finish(op):
    """What the worker does at the end of a snapshot: the row, then the operation's state."""
    Snapshot.objects.create(server=op.server, name="pre_upgrade_42")
    Operation.objects.filter(pk=op.pk).update(state=Operation.State.SUCCEEDED)


def open_page(browser, live_server, locale):  # noqa: F811
    page = csp_watched_page(browser, live_server, locale, timeout=15_000)
    sign_in(page, "alice@example.com")
    return page, page.violations


def test_it_keeps_a_half_filled_form_when_an_operation_finishes(browser, live_server, server, running_snapshot):  # noqa: F811
    page, errors = open_page(browser, live_server, "en-GB")
    page.goto(f"/servers/{server.public_id}/settings/")
    page.evaluate("window.stillTheSamePage = true")  # a reload would drop this mark
    resize = page.get_by_test_id("resize-form")
    resize.get_by_label("Memory (GB)").fill("2.5")
    expect(page.get_by_test_id("reload-notice")).to_be_hidden()

    finish(running_snapshot)
    notice = page.get_by_test_id("reload-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("The operation finished. Reload to see the changes.")
    expect(resize.get_by_label("Memory (GB)")).to_have_value("2.5")
    assert page.evaluate("window.stillTheSamePage") is True
    screenshot(page, "en-section-reload-notice")

    with page.expect_navigation():
        notice.get_by_role("button", name="Reload").click()
    assert page.evaluate("window.stillTheSamePage") is None
    expect(page.get_by_test_id("reload-notice")).to_be_hidden()
    expect(resize.get_by_label("Memory (GB)")).to_have_value("1")
    assert errors == []


def test_it_says_so_in_german(browser, live_server, server, running_snapshot):  # noqa: F811
    page, errors = open_page(browser, live_server, "de-DE")
    page.goto(f"/servers/{server.public_id}/settings/")
    page.get_by_test_id("resize-form").get_by_label("Arbeitsspeicher (GB)").fill("2,5")
    finish(running_snapshot)
    notice = page.get_by_test_id("reload-notice")
    expect(notice).to_contain_text("Der Vorgang ist abgeschlossen. Laden Sie die Seite neu, um die Änderungen zu sehen.")
    expect(notice.get_by_role("button", name="Neu laden")).to_be_visible()
    screenshot(page, "de-section-reload-notice")
    assert errors == []


def test_an_untouched_section_reloads_and_shows_what_the_operation_changed(browser, live_server, server, running_snapshot):  # noqa: F811
    page, errors = open_page(browser, live_server, "en-GB")
    page.goto(f"/servers/{server.public_id}/snapshots/")
    page.evaluate("window.stillTheSamePage = true")
    expect(page.locator("main")).not_to_contain_text("pre_upgrade_42")

    with page.expect_navigation():
        finish(running_snapshot)
    assert page.evaluate("window.stillTheSamePage") is None
    expect(page.locator("main")).to_contain_text("pre_upgrade_42")
    expect(page.get_by_test_id("reload-notice")).to_be_hidden()
    assert errors == []
