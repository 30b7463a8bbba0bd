"""JIKU staff publish an application container from Docker Hub (pvesim's registry); a customer orders it."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from provisioning.models import Image, Operation
from services.models import Plan
from tenants.staff_roles import ADMIN
from tests.conftest import make_staff, make_tenant, make_user
from tests.provisioning.conftest import cluster, pve, sim, wait_for, worker  # noqa: F401 - fixtures

from .conftest import screenshot
from .test_admin import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("worker")]


@pytest.fixture
def registry(pve, settings):  # noqa: F811
    settings.OCI_REGISTRY_ENDPOINTS = {"docker.io": f"https://127.0.0.1:{pve.port}/registry"}
    settings.OCI_REGISTRY_CA = pve.ca_cert_path
    return pve


def new_page(browser, live_server):
    context = browser.new_context(base_url=live_server.url, locale="en-GB", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    return context.new_page()


def test_staff_publish_an_application_container_and_a_customer_runs_it(browser, live_server, cluster, registry):  # noqa: F811
    Plan.objects.create(name="Container S", slug="ct-s", kind="lxc", cores=1, memory_mb=1024, disk_gb=8, price_monthly=Decimal("4.99"))
    make_staff("dora@jiku.example", ADMIN)
    make_tenant("Alpha GmbH", "alpha", owner=make_user("alice@example.com"))

    staff = new_page(browser, live_server)
    sign_in(staff, "dora@jiku.example")
    staff.goto("/staff/marketplace/")
    staff.fill("input[name=oci-reference]", "nginx:1.2")
    staff.get_by_role("button", name="Pull", exact=True).click()
    expect(staff.locator(".messages")).to_contain_text("digest is checked before and after")
    wait_for(lambda: Image.objects.filter(source="oci").exclude(status="downloading").exists(), message="the unknown tag to fail")
    staff.reload()
    expect(staff.locator("tbody tr").first).to_contain_text("does not know docker.io/library/nginx:1.2")

    staff.fill("input[name=oci-reference]", "nginx:1.27")
    staff.fill("input[name=oci-name]", "nginx")
    staff.get_by_role("button", name="Pull", exact=True).click()
    wait_for(lambda: Image.objects.filter(name="nginx", status="ready").exists(), message="the pull")
    staff.reload()
    row = staff.locator("tr", has_text="docker.io/library/nginx:1.27")
    expect(row).to_contain_text(registry.registry_digest("library/nginx", "1.27")[:20])
    expect(row).to_contain_text("pve, pve2, pve3")
    row.locator("text=Approve").click()
    expect(staff.locator(".messages")).to_contain_text("Customers can order it now.")
    screenshot(staff, "staff-marketplace")

    customer = new_page(browser, live_server)
    sign_in(customer, "alice@example.com")
    customer.goto("/order/")
    customer.check("input[name=kind][value=lxc]")
    customer.wait_for_load_state("networkidle")
    customer.locator("label.plan-choice", has_text="Container S").locator("input").check()
    # The wizard re-renders itself (HTMX) when the plan changes; wait for that before typing.
    expect(customer.locator("#order-summary")).to_contain_text("4.99 €")
    expect(customer.locator("select[name=image] optgroup[label='Application container (OCI)']")).to_contain_text("nginx")
    customer.select_option("select[name=image]", label="nginx")
    customer.fill("input[name=hostname]", "web")
    customer.fill("input[name=password]", "server-password-1")
    customer.click("button[name=place]")
    expect(customer).to_have_url(re.compile(r"/servers/[0-9a-f-]{36}/$"))
    wait_for(lambda: not Operation.objects.filter(state__in=Operation.ACTIVE_STATES).exists(), timeout=60, message="the build")
    expect(customer.locator("[data-testid=server-status]")).to_have_text("Running", timeout=15000)
    expect(customer.locator("#server-live")).to_contain_text("runs docker.io/library/nginx:1.27; its service answers at")
    screenshot(customer, "server-application-container")
