"""The admin's busiest list pages cost the same number of queries for 2 rows as for 30."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from provisioning.models import Drift
from tenants.models import Membership, Role, ServiceRequest
from tests.conftest import make_tenant, make_user

from .conftest import make_servers

pytestmark = pytest.mark.django_db


# Pinned: session, user, groups/permissions, count(s), rows, filters. Change on purpose only.
PINNED = {
    "admin:provisioning_server_changelist": 10,
    "admin:provisioning_operation_changelist": 8,
    "admin:provisioning_node_changelist": 9,
    "admin:tenants_tenant_changelist": 8,
    "staff:overview": 12,
    "staff:operations": 9,
}


def count_queries(client, url):
    client.get(url)  # warm caches (content types, permissions)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def grow(tenant, cluster, start, count):
    make_servers(tenant, cluster, count, start=start)
    for i in range(start, start + count):
        other = make_tenant(f"Tenant {i}", f"tenant-{i}", owner=make_user(f"owner{i}@example.com"))
        Membership.objects.create(tenant=other, user=make_user(f"member{i}@example.com"), role=Role.MEMBER)
        ServiceRequest.objects.create(tenant=other, duty="backups", subject=f"Request {i}")
    Drift.objects.create(cluster=cluster, kind=Drift.Kind.UNKNOWN, vmid=9000 + start, node_name="pve")


@pytest.mark.parametrize("name", list(PINNED))
def test_list_pages_have_pinned_query_counts(name, dora_client, tenant_a, offline_cluster):
    url = reverse(name)
    grow(tenant_a, offline_cluster, 0, 2)
    few = count_queries(dora_client, url)
    grow(tenant_a, offline_cluster, 2, 30)
    many = count_queries(dora_client, url)
    assert few == many, f"{name}: {few} queries with few rows, {many} with many"
    assert many == PINNED[name]


def test_the_node_page_gives_its_servers_sizes_in_gb(dora_client, tenant_a, offline_cluster):
    (server,) = make_servers(tenant_a, offline_cluster, 1)
    page = dora_client.get(reverse("staff:node", args=[server.node_id])).content.decode()
    assert '1 vCPU · <span title="1024 MiB">1\xa0GB</span> · 10\xa0GB' in page
    assert "1024 MiB ·" not in page
