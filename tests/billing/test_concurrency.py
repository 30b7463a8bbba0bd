"""Numbers are gapless and each month is billed once, under threads, two runs and a killed run.

Real threads and a real second process against PostgreSQL: the counter row lock and the unique
constraints decide, not timing.
"""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings as django_settings
from django.db import connection, transaction

from billing.actions import billing_run, invoice_draft, invoice_issue
from billing.models import Invoice
from tenants.models import Tenant
from tests.billing.conftest import at, billable, ordered_server

pytestmark = pytest.mark.django_db(transaction=True)


def customers(cluster, plan, count):
    tenants = []
    for i in range(count):
        tenant = billable(Tenant.objects.create(name=f"Kunde {i:02d}", slug=f"kunde-{i:02d}"))
        ordered_server(tenant, cluster, plan, f"srv{i}", built=at(2026, 3, 1))
        tenants.append(tenant)
    return tenants


def numbers():
    return sorted(int(n.rsplit("-", 1)[1]) for n in Invoice.objects.exclude(number="").values_list("number", flat=True))


def run_threads(target, args_list):
    errors = []

    def wrapped(*args):
        try:
            target(*args)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=wrapped, args=args) for args in args_list]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


def test_numbers_are_gapless_when_eight_threads_issue_at_once(rows_cluster, plans):
    tenants = customers(rows_cluster, plans["vm-s"], 24)
    drafts = [invoice_draft(tenant=t, year=2026, month=4) for t in tenants]
    chunks = [drafts[i::8] for i in range(8)]
    errors = run_threads(lambda chunk: [invoice_issue(invoice=d) for d in chunk], [(c,) for c in chunks])
    assert errors == []
    assert numbers() == list(range(1, 25))


def test_two_runs_at_once_make_one_set_of_invoices(rows_cluster, plans):
    customers(rows_cluster, plans["vm-s"], 12)
    errors = run_threads(lambda: billing_run(year=2026, month=4, issue=True), [(), ()])
    assert errors == []
    assert Invoice.objects.count() == 12
    assert numbers() == list(range(1, 13))


def _subprocess_run():
    db = django_settings.DATABASES["default"]
    env = dict(os.environ, DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}")
    return subprocess.Popen([sys.executable, "manage.py", "billing_run", "2026", "4", "--issue"], env=env,
                            cwd=django_settings.BASE_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_a_run_killed_half_way_resumes_without_a_gap_or_a_duplicate(rows_cluster, plans):
    tenants = customers(rows_cluster, plans["vm-s"], 10)
    held, release = threading.Event(), threading.Event()

    def hold_the_seventh():
        # Another transaction holds tenant 7: the run blocks there, half-way, and is killed.
        with transaction.atomic():
            Tenant.objects.select_for_update().get(pk=tenants[6].pk)
            held.set()
            release.wait(60)
        connection.close()

    holder = threading.Thread(target=hold_the_seventh)
    holder.start()
    held.wait(10)
    proc = _subprocess_run()
    try:
        deadline = time.monotonic() + 60
        while Invoice.objects.exclude(number="").count() < 6 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)
        assert proc.poll() is None, "the run should be waiting for tenant 7"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        release.set()
        holder.join(10)
    assert numbers() == list(range(1, 7))
    billing_run(year=2026, month=4, issue=True)
    assert Invoice.objects.count() == 10
    assert numbers() == list(range(1, 11))
