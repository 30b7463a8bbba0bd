"""The firewall page in the browser, in English and German, under the strict CSP: a preset read back from Proxmox."""

import pytest
from playwright.sync_api import expect

from provisioning import actions
from provisioning.models import Operation
from provisioning.proxmox import PVE
from tests.conftest import make_tenant, make_user
from tests.provisioning.conftest import cluster, ct_image, pve, sim, wait_for, worker  # noqa: F401 - fixtures

from .conftest import screenshot
from .test_admin import sign_in
from .test_csp import visit, watched

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("worker")]


def written(server):
    return wait_for(lambda: server.operations.filter(kind=Operation.Kind.FIREWALL, state="succeeded").count(),
                    timeout=60, message="the firewall written")


def test_a_customer_applies_a_preset_and_adds_a_rule_in_english_and_german(browser, live_server, ct_image):  # noqa: F811
    alice = make_user("alice@example.com")
    tenant = make_tenant("Alpha GmbH", "alpha", owner=alice)
    server = actions.server_create(tenant=tenant, image=ct_image, hostname="web-01", cores=1, memory_mb=512, disk_gb=8,
                                   password="long-enough-1")
    wait_for(lambda: server.operations.filter(state="succeeded").exists(), timeout=60, message="the build")

    page = watched(browser, live_server)
    sign_in(page, "alice@example.com")
    visit(page, f"/servers/{server.public_id}/")
    page.get_by_test_id("tab-firewall").click()
    expect(page.get_by_role("heading", name="Firewall", exact=True)).to_be_visible()
    expect(page.get_by_test_id("firewall-state")).to_have_text("Off")
    page.get_by_label("Preset").select_option(label="Only SSH from the office")
    page.get_by_label("Office or VPN addresses").fill("203.0.113.0/24")
    page.get_by_role("button", name="Apply preset").click()
    expect(page.locator("#messages")).to_contain_text("the firewall is being written")
    written(server)
    visit(page, f"/servers/{server.public_id}/firewall/")
    expect(page.get_by_test_id("firewall-state")).to_have_text("On")
    expect(page.get_by_test_id("firewall-rules")).to_contain_text("203.0.113.0/24")
    screenshot(page, "en-firewall")
    server.refresh_from_db()
    rules = PVE(server.cluster).firewall_rules(node=server.node.name, kind=server.kind, vmid=server.vmid)
    assert [(r["dport"], r["source"], r["enable"]) for r in rules] == [("22", "203.0.113.0/24", 1)]

    german = watched(browser, live_server, lang="de-DE")
    sign_in(german, "alice@example.com")
    visit(german, f"/servers/{server.public_id}/firewall/")
    expect(german.get_by_role("heading", name="Regeln")).to_be_visible()
    german.get_by_label("Protokoll").select_option("tcp")
    german.get_by_label("Port(s)").fill("443")
    german.get_by_role("button", name="Regel hinzufügen").click()
    expect(german.locator("#messages")).to_contain_text("Gespeichert")
    expect(german.get_by_test_id("firewall-rules")).to_contain_text("443")
    screenshot(german, "de-firewall")
    wait_for(lambda: written(server) >= 2, timeout=60, message="the second write")
    rules = PVE(server.cluster).firewall_rules(node=server.node.name, kind=server.kind, vmid=server.vmid)
    assert [r["dport"] for r in rules] == ["22", "443"]
    assert page.violations == [] and german.violations == []
