"""Who reaches what: staff roles, billing fields, and customers kept out of every staff page."""

import pytest
from django.urls import reverse

from provisioning.models import Drift, Operation
from tenants.models import ServiceRequest

from .conftest import make_servers

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_urls(tenant_a, offline_cluster):
    server = make_servers(tenant_a, offline_cluster, 1)[0]
    op = Operation.objects.filter(server=server).first()
    node = offline_cluster.nodes.first()
    drift = Drift.objects.create(cluster=offline_cluster, kind=Drift.Kind.UNKNOWN, vmid=4242, node_name="pve")
    req = ServiceRequest.objects.create(tenant=tenant_a, duty="backups", subject="Restore please")
    get = [
        reverse("staff:overview"), reverse("staff:node", args=[node.pk]), reverse("staff:operations"),
        reverse("staff:drift_list"), reverse("staff:requests"),
    ]
    post = [
        reverse("staff:cluster_reconcile", args=[offline_cluster.pk]), reverse("staff:cluster_test", args=[offline_cluster.pk]),
        reverse("staff:node_maintenance", args=[node.pk]), reverse("staff:node_drain", args=[node.pk]),
        reverse("staff:operation_retry", args=[op.public_id]), reverse("staff:operation_cancel", args=[op.public_id]),
        reverse("staff:drift_adopt", args=[drift.pk]), reverse("staff:drift_deleted", args=[drift.pk]),
        reverse("staff:drift_ignore", args=[drift.pk]), reverse("staff:request_answer", args=[req.public_id]),
    ]
    return get, post


def test_customers_are_refused_on_every_staff_page(alice_client, staff_urls):
    get, post = staff_urls
    for url in get:
        assert alice_client.get(url).status_code == 403, url
    for url in post:
        assert alice_client.post(url).status_code == 403, url


def test_a_staff_flag_alone_opens_nothing(alice, alice_client, staff_urls):
    alice.is_staff = True
    alice.save()
    for url in staff_urls[0]:
        assert alice_client.get(url).status_code == 403, url


def test_anonymous_visitors_are_sent_to_login(client, staff_urls):
    for url in staff_urls[0]:
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


def test_sales_cannot_reach_operations_pages(sam_client, staff_urls):
    get, post = staff_urls
    for url in get:
        assert sam_client.get(url).status_code == 403, url
    for url in post:
        assert sam_client.post(url).status_code == 403, url


def test_sales_work_on_offers_only_in_the_admin(sam_client, staff_urls):
    assert sam_client.get(reverse("admin:services_offer_changelist")).status_code == 200
    for name in ("provisioning_server", "provisioning_operation", "provisioning_node", "tenants_tenant"):
        assert sam_client.get(reverse(f"admin:{name}_changelist")).status_code == 403, name
    assert b"Operations" not in sam_client.get(reverse("admin:index")).content.split(b"<main")[0]


def test_operators_reach_every_operations_page(otto_client, staff_urls):
    for url in staff_urls[0]:
        assert otto_client.get(url).status_code == 200, url


def test_operators_do_not_see_billing_fields(otto_client, dora_client, tenant_a):
    tenant_a.billing_address = "Geheimweg 7"
    tenant_a.vat_id = "DE999999999"
    tenant_a.save()
    url = reverse("admin:tenants_tenant_change", args=[tenant_a.pk])
    operator_page = otto_client.get(url)
    assert operator_page.status_code == 200
    body = operator_page.content.decode()
    assert "Geheimweg" not in body and "DE999999999" not in body and 'name="vat_id"' not in body
    admin_page = dora_client.get(url).content.decode()
    assert "Geheimweg" in admin_page and "DE999999999" in admin_page


def test_operators_cannot_search_tenants_by_vat_id(otto_client, tenant_a):
    tenant_a.vat_id = "DE999999999"
    tenant_a.save()
    response = otto_client.get(reverse("admin:tenants_tenant_changelist"), {"q": "DE999999999"})
    assert "Alpha GmbH" not in response.content.decode()


def test_only_admins_may_suspend_tenants(otto_client, dora_client, tenant_a):
    url = reverse("admin:tenants_tenant_changelist")
    assert "suspend_tenants" not in otto_client.get(url).content.decode()
    assert "suspend_tenants" in dora_client.get(url).content.decode()


def test_the_nav_shows_operations_to_operators_only(otto_client, sam_client, alice_client):
    # Staff without a tenant land on their staff page at /welcome/, which has the same navigation.
    assert f'href="{reverse("staff:overview")}"' in otto_client.get("/welcome/").content.decode()
    assert f'href="{reverse("staff:overview")}"' not in sam_client.get("/welcome/").content.decode()
    assert f'href="{reverse("staff:overview")}"' not in alice_client.get("/").content.decode()
