from django.db import connection
from django.test.utils import CaptureQueriesContext

from provisioning.models import Cluster, Operation, Server


def make_servers(tenant, count, start=0, busy=3):
    cluster, _ = Cluster.objects.get_or_create(name="C", defaults={"api_url": "x:8006", "token_id": "a@pve!t"})
    servers = Server.objects.bulk_create(
        Server(tenant=tenant, cluster=cluster, kind="lxc", hostname=f"s{i}", cores=1, memory_mb=512, disk_gb=8, status="running")
        for i in range(start, start + count)
    )
    Operation.objects.bulk_create(Operation(tenant=tenant, server=s, kind="reboot") for s in servers[:busy])
    return servers


def test_the_dashboard_leads_an_empty_tenant_to_ordering(alice_client):
    page = alice_client.get("/").content.decode()
    assert "You have no servers yet" in page and "/order/" in page


def test_the_dashboard_shows_servers_quota_and_running_operations(alice_client, tenant_a):
    make_servers(tenant_a, 3)
    page = alice_client.get("/").content.decode()
    assert "s0" in page and "s2" in page
    assert "3 / 10" in page  # servers used of the quota
    assert "In progress" in page and "Reboot" in page


def test_the_dashboard_filters_by_state_and_type(alice_client, tenant_a):
    make_servers(tenant_a, 2, busy=0)
    Server.objects.filter(hostname="s1").update(status="stopped")
    page = alice_client.get("/?status=stopped").content.decode()
    assert ">s1<" in page and ">s0<" not in page


def test_the_dashboard_uses_the_same_number_of_queries_for_1_and_200_servers(alice_client, tenant_a):
    from django.core.cache import cache

    def queries():
        cache.clear()  # the month's costs are kept a few minutes: count the page that computes them
        with CaptureQueriesContext(connection) as ctx:
            assert alice_client.get("/").status_code == 200
        return len(ctx)

    make_servers(tenant_a, 1)
    one = queries()
    make_servers(tenant_a, 199, start=1)
    assert queries() == one


def test_other_tenants_servers_never_show(charlie_client, tenant_a):
    make_servers(tenant_a, 2)
    page = charlie_client.get("/").content.decode()
    assert ">s0<" not in page


def test_the_dashboard_shows_what_failed_or_stopped_by_itself_before_the_server_list(alice_client, tenant_a):
    make_servers(tenant_a, 3, busy=0)
    Server.objects.filter(hostname="s1").update(status="failed")
    Server.objects.filter(hostname="s2").update(status="stopped", should_run=True)
    page = alice_client.get("/").content.decode()
    attention = page[page.index('data-testid="attention"'):page.index("</ul>", page.index('data-testid="attention"'))]
    assert ">s1<" in attention and ">s2<" in attention and ">s0<" not in attention
    assert page.index("Needs your attention") < page.index(">Servers</h2>") < page.index(">Quota and costs</h2>")


def test_the_dashboard_shows_the_months_costs_to_owners_but_not_to_members(alice_client, bob_client, tenant_a):
    from services.models import Plan
    from tests.billing.conftest import at, billable, ordered_server

    billable(tenant_a)
    cluster, _ = Cluster.objects.get_or_create(name="C", defaults={"api_url": "x:8006", "token_id": "a@pve!t"})
    plan = Plan.objects.create(name="VM S", slug="d-vm-s", kind="qemu", cores=1, memory_mb=2048, disk_gb=40, price_monthly="9.95")
    assert 'data-testid="costs"' not in alice_client.get("/").content.decode(), "nothing billable yet"
    ordered_server(tenant_a, cluster, plan, "web", built=at(2026, 1, 1))
    page = alice_client.get("/").content.decode()  # at once, though the costs are kept a few minutes
    assert 'data-testid="costs"' in page and "Costs so far in" in page and "/billing/" in page
    assert 'data-testid="costs"' not in bob_client.get("/").content.decode()


def test_the_costs_keep_the_dashboards_queries_constant(alice_client, tenant_a):
    from django.core.cache import cache

    from services.models import Plan
    from tests.billing.conftest import at, billable, ordered_server

    billable(tenant_a)
    cluster, _ = Cluster.objects.get_or_create(name="C", defaults={"api_url": "x:8006", "token_id": "a@pve!t"})
    plan = Plan.objects.create(name="VM S", slug="d-vm-s", kind="qemu", cores=1, memory_mb=2048, disk_gb=40, price_monthly="9.95")

    def queries():
        cache.clear()  # the costs are kept a few minutes: count the page that computes them
        with CaptureQueriesContext(connection) as ctx:
            assert alice_client.get("/").status_code == 200
        return len(ctx)

    ordered_server(tenant_a, cluster, plan, "web-0", built=at(2026, 1, 1))
    one = queries()
    for i in range(1, 15):
        ordered_server(tenant_a, cluster, plan, f"web-{i}", built=at(2026, 1, 1))
    assert queries() == one


def test_the_quota_is_read_in_one_query_so_the_attention_list_costs_the_dashboard_nothing(tenant_a, django_assert_num_queries):
    from provisioning.actions import quota_usage

    make_servers(tenant_a, 3)
    Server.objects.filter(hostname="s2").update(status="failed")  # holds nothing: not counted
    with django_assert_num_queries(1):
        used = quota_usage(tenant_a)
    assert used == {"servers": 2, "cores": 2, "memory_mb": 1024, "disk_gb": 16}
