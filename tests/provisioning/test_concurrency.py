"""50 concurrent orders from 10 tenants: no duplicate VMID or IP, no quota overshoot."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from django.core.exceptions import ValidationError
from django.db import connection

from provisioning import actions
from provisioning.models import Operation, Server
from tenants.models import Tenant

from .conftest import wait_for


def test_fifty_concurrent_creates_from_ten_tenants(vm_image, ct_image, pve, worker):
    tenants = [Tenant.objects.create(name=f"T{i}", slug=f"t{i}", max_servers=4) for i in range(10)]
    orders = [(tenant, n) for tenant in tenants for n in range(5)]

    def order(args):
        tenant, n = args
        try:
            image = vm_image if n % 2 else ct_image
            actions.server_create(
                tenant=tenant, image=image, hostname=f"s{n}", cores=1, memory_mb=512, disk_gb=8, password="long-enough"
            )
            return "created"
        except ValidationError as exc:
            return " ".join(exc.messages)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(order, orders))

    assert results.count("created") == 40
    assert all("4 servers; this would make 5" in r for r in results if r != "created")

    wait_for(
        lambda: not Operation.objects.filter(state__in=Operation.ACTIVE_STATES).exists(), timeout=120, message="all builds"
    )
    assert Counter(Operation.objects.values_list("state", flat=True)) == {"succeeded": 40}
    servers = Server.objects.all()
    vmids = [s.vmid for s in servers]
    ips = [s.ipv4 for s in servers]
    assert len(set(vmids)) == len(vmids) == 40
    assert len(set(ips)) == len(ips) == 40
    for tenant in tenants:
        assert Server.objects.for_tenant(tenant).live().count() <= tenant.max_servers
    guests = [g for g in pve.state()["guests"] if not g.get("template")]
    assert sorted(g["vmid"] for g in guests) == sorted(vmids)
    assert all(g["status"] == "running" for g in guests)
