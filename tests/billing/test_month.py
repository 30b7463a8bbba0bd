"""A month of usage becomes exactly the expected invoice lines and totals."""

from decimal import Decimal

import pytest

from billing.actions import billing_run, invoice_draft
from billing.models import Invoice, Rate
from provisioning.actions import tenant_suspend
from provisioning.models import Operation
from services.models import DutyPrice
from tests.billing.conftest import at, billable, delete, ordered_server, resize, start_contract

pytestmark = pytest.mark.django_db


@pytest.fixture
def april(tenant_a, rows_cluster, plans, tier):
    """April 2026 (30 days, no clock change) of tenant Alpha, as the issue lists it."""
    billable(tenant_a)
    start_contract(tenant_a, tier, at(2026, 3, 1))
    for code, amount in (("core", "5.00"), ("memory_gib", "2.00"), ("disk_gib", "0.10")):
        Rate.objects.create(code=code, amount=Decimal(amount), valid_from=at(2026, 1, 1))
    web = ordered_server(tenant_a, rows_cluster, plans["vm-m"], "web", built=at(2026, 3, 10, 9, 30))
    db = ordered_server(tenant_a, rows_cluster, plans["vm-m"], "db", built=at(2026, 4, 1))
    resize(db, at(2026, 4, 16), cores=4, memory_mb=8192, disk_gb=100)
    old = ordered_server(tenant_a, rows_cluster, plans["vm-s"], "old", built=at(2026, 3, 1))
    delete(old, at(2026, 4, 10, 12, 0, ))
    # An order whose build failed: nothing was ever there to bill.
    ordered_server(tenant_a, rows_cluster, plans["vm-m"], "broken", built=at(2026, 4, 5), state=Operation.State.FAILED)
    # Suspended for non-payment on 20 April: the servers are stopped, not gone, and still billed.
    for stop in tenant_suspend(tenant=tenant_a, reason="unpaid"):
        Operation.objects.filter(pk=stop.pk).update(state=Operation.State.SUCCEEDED, finished_at=at(2026, 4, 20))
    return {"web": web, "db": db, "old": old}


def lines_of(invoice):
    return [(line.code, line.description, line.quantity, line.unit_price, line.net) for line in invoice.lines.all()]


def test_a_month_with_orders_a_resize_a_deletion_a_failed_order_a_suspension_and_the_managed_fee(april, tenant_a):
    invoice = invoice_draft(tenant=tenant_a, year=2026, month=4)
    assert lines_of(invoice) == [
        ("duty", "Managed by JIKU: Updates and upgrades", Decimal("1.0000"), Decimal("50.0000"), Decimal("50.00")),
        ("duty", "Managed by JIKU: Backups", Decimal("1.0000"), Decimal("5.0000"), Decimal("5.00")),
        # 1-16 April at the ordered size, then 16-30 April at 4 cores, 8 GiB, 100 GiB: 19.90 + 2 x 5 + 4 x 2 + 20 x 0.10
        ("server", "db · VM M", Decimal("0.5000"), Decimal("19.9000"), Decimal("9.95")),
        ("server", "db · VM M", Decimal("0.5000"), Decimal("39.9000"), Decimal("19.95")),
        # deleted on 10 April at 12:00: 13,680 of 43,200 minutes, 3.135 rounded half-up
        ("server", "old · VM S", Decimal("0.3167"), Decimal("9.9000"), Decimal("3.14")),
        ("server", "web · VM M", Decimal("1.0000"), Decimal("19.9000"), Decimal("19.90")),
        ("managed", "Managed servers (Managed)", Decimal("2.3167"), Decimal("10.0000"), Decimal("23.17")),
    ]
    assert (invoice.net, invoice.vat, invoice.gross) == (Decimal("131.11"), Decimal("24.91"), Decimal("156.02"))
    assert (invoice.period_start.isoformat(), invoice.period_end.isoformat()) == ("2026-04-01", "2026-04-30")
    assert invoice.vat_breakdown() == [("S", Decimal("19.00"), Decimal("131.11"), Decimal("24.91"))]


def test_the_one_off_items_and_the_vds_of_an_accepted_offer_are_billed_in_its_month(tenant_a, tier):
    from services.models import Contract

    billable(tenant_a)
    contract = start_contract(tenant_a, tier, at(2026, 4, 16))
    fees = dict(contract.fees, vds={"name": "VDS M", "price": "120.00"}, once=[{"code": "setup", "amount": "490.00"}])
    Contract.objects.filter(pk=contract.pk).update(fees=fees)
    lines = lines_of(invoice_draft(tenant=tenant_a, year=2026, month=4))
    assert ("vds", "Dedicated server (VDS) VDS M", Decimal("0.5000"), Decimal("120.0000"), Decimal("60.00")) in lines
    assert ("once", "Set-up of the virtualisation platform", Decimal("1.0000"), Decimal("490.0000"), Decimal("490.00")) in lines
    assert not [line for line in lines_of(invoice_draft(tenant=tenant_a, year=2026, month=5)) if line[0] == "once"]


def test_a_staging_copy_and_the_promoted_server_are_billed_as_the_order_they_come_from(tenant_a, rows_cluster, plans):
    from provisioning.models import Server
    from tests.billing.conftest import op

    billable(tenant_a)
    prod = ordered_server(tenant_a, rows_cluster, plans["vm-s"], "shop", built=at(2026, 3, 1))
    copy = Server.objects.create(tenant=tenant_a, cluster=rows_cluster, kind="qemu", hostname="shop-staging", cores=1,
                                 memory_mb=2048, disk_gb=40, staging_of=prod, status="running")
    op(copy, Operation.Kind.STAGING, at(2026, 4, 11), source=prod.pk)
    op(prod, Operation.Kind.PROMOTE, at(2026, 4, 21), staging=copy.pk)
    delete(prod, at(2026, 4, 26))
    lines = [(d, q) for code, d, q, _p, _n in lines_of(invoice_draft(tenant=tenant_a, year=2026, month=4))]
    # 1-21 April production, then 21-26 April as the staging copy; the copy is staging 11-21, production from 21.
    assert lines == [
        ("shop · VM S", Decimal("0.6667")), ("shop · VM S · staging copy", Decimal("0.1667")),
        ("shop-staging · VM S · staging copy", Decimal("0.3333")), ("shop-staging · VM S", Decimal("0.3333")),
    ]


def test_a_server_that_was_never_sold_is_not_billed(tenant_a, rows_cluster):
    from provisioning.models import Server
    from tests.billing.conftest import op

    billable(tenant_a)
    server = Server.objects.create(tenant=tenant_a, cluster=rows_cluster, kind="qemu", hostname="internal", cores=1,
                                   memory_mb=1024, disk_gb=10, status="running")
    op(server, Operation.Kind.CREATE, at(2026, 3, 1))
    assert invoice_draft(tenant=tenant_a, year=2026, month=4) is None


def test_the_run_is_idempotent_and_a_month_not_over_is_refused(april, tenant_a, tenant_b):
    from django.core.exceptions import ValidationError

    first = billing_run(year=2026, month=4, issue=True)
    second = billing_run(year=2026, month=4, issue=True)
    assert Invoice.objects.filter(period_start="2026-04-01").count() == 1
    assert (first.drafted, second.drafted, second.issued) == (1, 1, 1)
    with pytest.raises(ValidationError, match="not over yet"):
        invoice_draft(tenant=tenant_a, year=2099, month=1)


def test_editing_prices_never_changes_an_issued_invoice(april, tenant_a, plans, tier):
    from billing.actions import invoice_issue
    from billing.models import InvoiceLine

    invoice = invoice_issue(invoice=invoice_draft(tenant=tenant_a, year=2026, month=4))
    before = lines_of(invoice), invoice.gross
    plans["vm-m"].price_monthly = Decimal("99.00")
    plans["vm-m"].save()
    DutyPrice.objects.filter(duty="updates").update(per_server=Decimal("99.00"))
    Rate.objects.create(code="core", amount=Decimal("50.00"), valid_from=at(2026, 4, 2))
    invoice.refresh_from_db()
    assert (lines_of(invoice), invoice.gross) == before
    assert InvoiceLine.objects.filter(invoice=invoice).count() == 7

