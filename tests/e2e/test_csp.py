"""Every page type runs under the strict Content-Security-Policy without a single violation."""

import pytest
from playwright.sync_api import expect

from provisioning import actions
from services import actions as sales
from services.catalogue import install
from tenants.staff_roles import ADMIN
from tests.conftest import make_staff, make_tenant, make_user
from tests.provisioning.conftest import cluster, ct_image, pve, sim, wait_for, worker  # noqa: F401 - fixtures
from tests.services.conftest import PLANS

from .conftest import csp_watched_page, screenshot
from .test_admin import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("worker")]

def watched(browser, live_server, lang="en-GB"):
    return csp_watched_page(browser, live_server, lang, width=1366)


def visit(page, path):
    response = page.goto(path)
    assert response.ok, (path, response.status)
    assert "script-src 'self'" in response.headers["content-security-policy"], path
    # Let htmx load the parts it fetches after the page (graphs, live status); generous on a busy machine.
    page.wait_for_load_state("networkidle", timeout=30_000)
    return response


def make_plans():
    from decimal import Decimal

    from django.apps import apps

    from services.models import Plan

    install(apps)
    for slug, kind, cores, memory, disk, price in PLANS:
        Plan.objects.create(name=slug.upper(), slug=slug, kind=kind, cores=cores, memory_mb=memory, disk_gb=disk,
                            price_monthly=Decimal(price))


def test_every_page_type_runs_without_a_csp_violation(browser, live_server, ct_image):  # noqa: F811
    make_plans()
    alice = make_user("alice@example.com")
    tenant = make_tenant("Alpha GmbH", "alpha", owner=alice)
    server = actions.server_create(tenant=tenant, image=ct_image, hostname="web-01", cores=1, memory_mb=512, disk_gb=8,
                                   password="long-enough-1")
    dora = make_staff("dora@jiku.example", ADMIN)
    offer = sales.offer_create_sample(user=dora, language="en")
    wait_for(lambda: server.operations.filter(state="succeeded").exists(), timeout=60, message="the build")

    anonymous = watched(browser, live_server)
    for path in ["/accounts/login/", "/accounts/signup/", "/accounts/password/reset/", "/no-such-page/"]:
        anonymous.goto(path)

    customer = watched(browser, live_server)
    sign_in(customer, "alice@example.com")
    sections = [f"/servers/{server.public_id}/{section}/" for section in ("graphs", "snapshots", "backups", "settings", "danger")]
    for path in ["/", "/servers/", f"/servers/{server.public_id}/", *sections, "/backups/", "/order/", "/team/", "/ssh-keys/",
                 "/api-tokens/", "/activity/", "/contract/", "/billing/", "/accounts/email/", "/accounts/password/change/",
                 "/accounts/2fa/", "/tenant/settings/", "/requests/", "/requests/new/", "/notifications/",
                 "/webhooks/"]:
        visit(customer, path)
    screenshot(customer, "en-csp-last-customer-page")
    # An htmx swap and a confirmation from the static script, both under the policy.
    visit(customer, f"/servers/{server.public_id}/")
    customer.once("dialog", lambda dialog: dialog.dismiss())
    customer.get_by_test_id("power").get_by_role("button", name="Stop", exact=True).click()
    customer.get_by_test_id("power").get_by_role("button", name="Reboot", exact=True).click()
    expect(customer.locator("#messages")).to_contain_text("Reboot is queued")

    staff = watched(browser, live_server)
    sign_in(staff, "dora@jiku.example")
    node = server.node
    for path in ["/staff/", "/staff/operations/", f"/staff/nodes/{node.pk}/", "/staff/drift/", "/staff/marketplace/",
                 "/staff/requests/", "/staff/consoles/", "/staff/billing/", "/sales/offers/",
                 f"/sales/offers/{offer.public_id}/", f"/sales/offers/{offer.public_id}/print/",
                 f"/sales/offers/{offer.public_id}/accept/", "/admin/", "/admin/services/offer/",
                 "/admin/provisioning/node/", "/admin/provisioning/server/", f"/admin/provisioning/server/{server.pk}/change/"]:
        visit(staff, path)
    # The prospect's page behind the mailed link, and the offer page showing that link.
    sent = sales.offer_send(offer=offer, user=dora)
    visit(staff, f"/sales/offers/{sent.public_id}/")
    visit(anonymous, f"/offers/{sales.offer_link_token(offer=sent)}/")
    violations = anonymous.violations + customer.violations + staff.violations
    assert violations == [], "\n".join(violations)
