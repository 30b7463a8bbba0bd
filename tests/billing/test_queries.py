"""The run's queries grow with the tenants, not with their servers: linear, never quadratic."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.actions import billing_run
from billing.models import BillingRun, Invoice
from tenants.models import Tenant
from tests.billing.conftest import at, billable, ordered_server

pytestmark = pytest.mark.django_db


def run_queries():
    Invoice.objects.all().delete()
    BillingRun.objects.all().delete()
    with CaptureQueriesContext(connection) as queries:
        billing_run(year=2026, month=4, issue=False)
    return len(queries)


def customer(i, cluster, plan, servers):
    tenant = billable(Tenant.objects.create(name=f"Kunde {i}", slug=f"kunde-{i}"))
    for j in range(servers):
        ordered_server(tenant, cluster, plan, f"s{i}-{j}", built=at(2026, 3, 1))


def test_the_billing_run_costs_the_same_queries_per_tenant_whatever_its_servers(rows_cluster, plans):
    base = run_queries()
    for i in range(3):
        customer(i, rows_cluster, plans["vm-s"], 1)
    three = run_queries()
    for i in range(3, 6):
        customer(i, rows_cluster, plans["vm-s"], 8)
    six = run_queries()
    assert six - three == three - base
    assert (three - base) / 3 <= 15
