"""Billing on database rows: servers, orders and the operations the engine would have written.

The history is laid down as rows (what provisioning records when an operation ends), so a month
can be billed without building anything; no portal code path is replaced.
"""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from provisioning.models import Cluster, Node, Operation, Server
from services.models import Contract, DutyPrice, Order, Plan, ServiceTier, TierDuty

TZ = timezone.get_default_timezone()
ADDRESS = "Alpha GmbH\nHauptstr. 1\n10115 Berlin"


def at(year, month, day, hour=0, minute=0):
    return datetime.datetime(year, month, day, hour, minute, tzinfo=TZ)


@pytest.fixture
def rows_cluster(db):
    cluster = Cluster.objects.create(name="Frankfurt", api_url="127.0.0.1:1", token_id="portal@pve!t")
    Node.objects.create(cluster=cluster, name="pve", status=Node.Status.ONLINE, max_cores=64, max_memory_mb=262144,
                        max_disk_gb=4000)
    return cluster


@pytest.fixture
def plans(db):
    return {
        "vm-s": Plan.objects.create(name="VM S", slug="t-vm-s", kind="qemu", cores=1, memory_mb=2048, disk_gb=40,
                                    price_monthly=Decimal("9.90")),
        "vm-m": Plan.objects.create(name="VM M", slug="t-vm-m", kind="qemu", cores=2, memory_mb=4096, disk_gb=80,
                                    price_monthly=Decimal("19.90")),
    }


@pytest.fixture
def tier(db):
    tier = ServiceTier.objects.create(slug="t-managed", name="Managed")
    TierDuty.objects.create(tier=tier, duty="backups", party="jiku")
    TierDuty.objects.create(tier=tier, duty="updates", party="jiku")
    DutyPrice.objects.update_or_create(duty="updates", defaults={"per_month": Decimal("50.00"), "per_server": Decimal("10.00")})
    DutyPrice.objects.update_or_create(duty="backups", defaults={"per_month": Decimal("5.00"), "per_server": Decimal("0")})
    return tier


def billable(tenant):
    tenant.billing_address, tenant.vat_id = ADDRESS, "DE123456789"
    tenant.save(update_fields=["billing_address", "vat_id"])
    return tenant


def start_contract(tenant, tier, started):
    from services.actions import contract_start

    contract = contract_start(tenant=tenant, tier=tier)
    Contract.objects.filter(pk=contract.pk).update(started_at=started)
    return Contract.objects.get(pk=contract.pk)


def op(server, kind, finished, state=Operation.State.SUCCEEDED, **params):
    return Operation.objects.create(tenant=server.tenant, server=server, kind=kind, state=state, params=params,
                                    started_at=finished, finished_at=finished)


def ordered_server(tenant, cluster, plan, hostname, *, built, state=Operation.State.SUCCEEDED, price=None):
    """An order and its server, built (or failed) at `built`."""
    server = Server.objects.create(
        tenant=tenant, cluster=cluster, node=cluster.nodes.first(), kind=plan.kind, hostname=hostname,
        cores=plan.cores, memory_mb=plan.memory_mb, disk_gb=plan.disk_gb,
        status=Server.Status.RUNNING if state == Operation.State.SUCCEEDED else Server.Status.FAILED,
    )
    Order.objects.create(tenant=tenant, plan=plan, server=server, hostname=hostname,
                         price_monthly=plan.price_monthly if price is None else price,
                         state=Order.State.PLACED)
    op(server, Operation.Kind.CREATE, built, state=state)
    return server


def resize(server, finished, **new):
    old = {"cores": server.cores, "memory_mb": server.memory_mb, "disk_gb": server.disk_gb}
    Server.objects.filter(pk=server.pk).update(**new)
    op(server, Operation.Kind.RESIZE, finished, old=old, new={**old, **new})
    server.refresh_from_db()


def delete(server, finished):
    Server.objects.filter(pk=server.pk).update(status=Server.Status.DELETED)
    op(server, Operation.Kind.DELETE, finished, previous_status="running")
