"""The monthly billing run over many tenants: time, queries, and whether it grows linearly.

Rows only (the history provisioning would have written): per tenant 20 ordered servers built last
month or earlier, two resizes and a deletion in the billed month, and a managed-service contract.
Run alone with `python bench/bench_billing.py` (inside scripts/with-services.sh) or through bench/run.py.
"""

import datetime
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

TZ = timezone.get_default_timezone()
YEAR, MONTH = 2026, 4


def at(day, hour=0):
    return datetime.datetime(YEAR, MONTH, day, hour, tzinfo=TZ)


def reset():
    from billing.models import BillingRun, Invoice, InvoiceLine, NumberSeries
    from provisioning.models import Cluster, Operation, Server
    from services.models import Contract, Order, Plan, ServiceTier
    from tenants.models import AuditEvent, Tenant

    with connection.cursor() as cursor:
        # Drafts only: the triggers allow their deletion.
        for model in (InvoiceLine, Invoice, BillingRun, NumberSeries, AuditEvent, Order, Contract, Operation, Server):
            cursor.execute(f"DELETE FROM {model._meta.db_table}")
    Plan.objects.filter(slug="bench-vm").delete()
    ServiceTier.objects.filter(slug="bench-tier").delete()
    Tenant.objects.filter(slug__startswith="bench-").delete()
    Cluster.objects.filter(name="Bench billing").delete()


def populate(tenants, servers_per_tenant):
    from provisioning.models import Cluster, Operation, Server
    from services.actions import contract_fees
    from services.models import Contract, DutyPrice, Order, Plan, ServiceTier
    from tenants.models import Tenant

    cluster = Cluster.objects.create(name="Bench billing", api_url="127.0.0.1:1", token_id="x@pve!x")
    plan = Plan.objects.create(name="VM M", slug="bench-vm", kind="qemu", cores=2, memory_mb=4096, disk_gb=80,
                               price_monthly=Decimal("19.90"))
    tier = ServiceTier.objects.create(slug="bench-tier", name="Bench")
    DutyPrice.objects.update_or_create(duty="updates", defaults={"per_month": Decimal("49"), "per_server": Decimal("9")})
    fees = contract_fees(tier=tier, duties={"updates": "jiku"})
    rows = Tenant.objects.bulk_create([
        Tenant(name=f"Bench {i}", slug=f"bench-{i}", billing_address=f"Bench {i} GmbH\nWeg {i}\n10115 Berlin")
        for i in range(tenants)])
    Contract.objects.bulk_create([Contract(tenant=t, tier=tier, fees=fees, duties={"updates": "jiku"},
                                           started_at=at(1) - datetime.timedelta(days=60)) for t in rows])
    servers = Server.objects.bulk_create([
        Server(tenant=t, cluster=cluster, kind="qemu", hostname=f"s{j}", cores=2, memory_mb=4096, disk_gb=80,
               status="running") for t in rows for j in range(servers_per_tenant)], batch_size=5000)
    Order.objects.bulk_create([Order(tenant_id=s.tenant_id, plan=plan, server=s, hostname=s.hostname,
                                     price_monthly=plan.price_monthly) for s in servers], batch_size=5000)
    ops = []
    for n, s in enumerate(servers):
        j = n % servers_per_tenant
        built = at(1) - datetime.timedelta(days=20) if j else at(3, 9)
        ops.append(Operation(tenant_id=s.tenant_id, server=s, kind="create", state="succeeded", finished_at=built))
        if j in (1, 2):
            ops.append(Operation(tenant_id=s.tenant_id, server=s, kind="resize", state="succeeded", finished_at=at(10 + j),
                                 params={"old": {"cores": 2, "memory_mb": 4096, "disk_gb": 80},
                                         "new": {"cores": 4, "memory_mb": 8192, "disk_gb": 100}}))
        if j == 3:
            ops.append(Operation(tenant_id=s.tenant_id, server=s, kind="delete", state="succeeded", finished_at=at(20, 12)))
    Operation.objects.bulk_create(ops, batch_size=5000)


class Count:
    """Counts queries without keeping them (Django's capture keeps only the last 9,000)."""

    def __init__(self):
        self.n = 0

    def __call__(self, execute, sql, params, many, context):
        self.n += 1
        return execute(sql, params, many, context)

    def __enter__(self):
        self._cm = connection.execute_wrapper(self)
        self._cm.__enter__()
        return self

    def __exit__(self, *exc):
        self._cm.__exit__(*exc)

    def __len__(self):
        return self.n


def measure(tenants, servers_per_tenant):
    from billing.actions import billing_run
    from billing.models import Invoice, InvoiceLine

    reset()
    populate(tenants, servers_per_tenant)
    with Count() as queries:
        started = time.perf_counter()
        run = billing_run(year=YEAR, month=MONTH, issue=False)
        elapsed = time.perf_counter() - started
    with Count() as again:
        started = time.perf_counter()
        billing_run(year=YEAR, month=MONTH, issue=False)
        second = time.perf_counter() - started
    figures = {
        "tenants": tenants, "servers": tenants * servers_per_tenant, "invoices": run.drafted,
        "lines": InvoiceLine.objects.count(), "seconds": round(elapsed, 2), "ms_per_tenant": round(1000 * elapsed / tenants, 2),
        "queries": len(queries), "queries_per_tenant": round(len(queries) / tenants, 2),
        "second_run_seconds": round(second, 2), "second_run_new_invoices": Invoice.objects.count() - run.drafted,
        "second_run_queries": len(again),
    }
    reset()
    return figures


def bench_billing(sizes=((100, 20), (1000, 20))):
    results = {f"{t}_tenants": measure(t, s) for t, s in sizes}
    small, large = results["100_tenants"], results["1000_tenants"]
    results["ratio_1000_to_100"] = {"seconds": round(large["seconds"] / small["seconds"], 2),
                                    "queries": round(large["queries"] / small["queries"], 2)}
    return results


if __name__ == "__main__":
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    for case, figures in bench_billing().items():
        print(f"billing {case:<20} {figures}")
