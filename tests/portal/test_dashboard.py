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
    def queries():
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
