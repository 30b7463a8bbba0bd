"""The network page in a real browser: addresses, a reverse DNS name set and refused, in English and German."""

import pytest
from playwright.sync_api import expect

from provisioning.models import Cluster, IPPool, Node, Server
from tests.conftest import make_tenant, make_user
from tests.provisioning.conftest import pdns  # noqa: F401 - fixture

from .conftest import csp_watched_page, screenshot
from .test_admin import sign_in

pytestmark = pytest.mark.e2e

@pytest.fixture
def server(transactional_db):
    """A server holding an IPv4 address and a routed IPv6 prefix; the page needs no guest in Proxmox."""
    cluster = Cluster.objects.create(name="C", api_url="127.0.0.1:1", token_id="a@pve!t")
    node = Node.objects.create(cluster=cluster, name="pve", status="online", max_cores=8, max_memory_mb=8192, max_disk_gb=100)
    IPPool.objects.create(cluster=cluster, name="v4", network="192.0.2.0/24", gateway="192.0.2.1",
                          range_start="192.0.2.10", range_end="192.0.2.250")
    IPPool.objects.create(cluster=cluster, name="v6", network="2001:db8::/48", gateway="fe80::1",
                          range_start="2001:db8:0:100::", range_end="2001:db8:0:1ff::", server_prefixlen=64)
    tenant = make_tenant("Alpha GmbH", "alpha", owner=make_user("alice@example.com"))
    return Server.objects.create(
        tenant=tenant, cluster=cluster, node=node, kind="lxc", hostname="web-01", vmid=100, cores=1, memory_mb=512,
        disk_gb=8, status="running", ipv4="192.0.2.10", ipv6_prefix="2001:db8:0:100::/64", ipv6="2001:db8:0:100::1",
    )


def open_network_page(browser, live_server, locale, server):
    page = csp_watched_page(browser, live_server, locale)
    sign_in(page, "alice@example.com")
    page.goto(f"/servers/{server.public_id}/")
    page.get_by_test_id("tab-network").click()
    return page.context, page, page.violations


def test_the_network_page_sets_a_name_and_refuses_a_bad_one_in_english(browser, live_server, server, pdns):  # noqa: F811
    pdns.forward("web.example.test", "2001:db8:0:100::1")
    context, page, errors = open_network_page(browser, live_server, "en-GB", server)
    expect(page.get_by_test_id("network-ipv4")).to_have_text("192.0.2.10")
    expect(page.get_by_test_id("network-ipv6")).to_have_text("2001:db8:0:100::1")

    form = page.get_by_test_id("ptr-form")
    form.get_by_label("Address").fill("2001:db8:0:100::1")
    form.get_by_label("Host name").fill("web.example.test")
    form.get_by_role("button", name="Save").click()
    expect(page.locator("#messages")).to_contain_text("The reverse DNS name web.example.test is set.")
    expect(page.get_by_test_id("ptr-records")).to_contain_text("Active")
    assert pdns.ptr("2001:db8:0:100::1") == "web.example.test."

    form = page.get_by_test_id("ptr-form")
    form.get_by_label("Address").fill("192.0.2.99")
    form.get_by_label("Host name").fill("not a host")
    form.get_by_role("button", name="Save").click()
    expect(form).to_contain_text("Enter a fully qualified host name such as mail.example.com.")
    screenshot(page, "en-server-network")
    assert errors == []
    context.close()


def test_the_network_page_keeps_a_name_as_pending_in_german(browser, live_server, server, pdns):  # noqa: F811
    context, page, errors = open_network_page(browser, live_server, "de-DE", server)
    expect(page.get_by_role("heading", name="Reverse-DNS-Namen setzen")).to_be_visible()
    form = page.get_by_test_id("ptr-form")
    form.get_by_label("Adresse").fill("192.0.2.10")
    form.get_by_label("Hostname").fill("bald.example.test")
    form.get_by_role("button", name="Speichern").click()
    expect(page.locator("#messages")).to_contain_text("bald.example.test löst noch nicht zu 192.0.2.10 auf.")
    expect(page.get_by_test_id("ptr-records")).to_contain_text("Wartet auf den Forward-Eintrag")

    form = page.get_by_test_id("ptr-form")
    form.get_by_label("Adresse").fill("192.0.2.99")
    form.get_by_label("Hostname").fill("bald.example.test")
    form.get_by_role("button", name="Speichern").click()
    expect(form).to_contain_text("Diese Adresse gehört nicht zu diesem Server.")
    screenshot(page, "de-server-network")
    assert errors == []
    context.close()
