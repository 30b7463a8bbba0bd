"""Notifications through the real path: event recorded and committed, fan-out and send tasks on
Redis, a Celery worker (threads), Django's in-memory mail outbox.

Figures: the latency from an event's commit to its mail (median of 20, one at a time), and a
burst of events for many tenants (one owner each) delivered with no mail twice and none lost.
Run alone with `python bench/bench_notifications.py [events tenants]` (inside
scripts/with-services.sh) or through bench/run.py.
"""

import logging
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django  # noqa: E402

django.setup()

from celery.contrib.testing.worker import start_worker  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core import mail  # noqa: E402
from django.db import transaction  # noqa: E402

from portal.celery import app as celery_app  # noqa: E402


def reset():
    from django.contrib.auth import get_user_model

    from notifications.models import Event
    from tenants.models import Tenant

    Event.objects.filter(tenant__slug__startswith="bench-n-").delete()
    Tenant.objects.filter(slug__startswith="bench-n-").delete()
    get_user_model().objects.filter(username__startswith="bench-n-").delete()


def populate(tenants):
    from django.contrib.auth import get_user_model

    from tenants.models import Membership, Tenant

    rows = Tenant.objects.bulk_create([Tenant(name=f"Bench {i}", slug=f"bench-n-{i}") for i in range(tenants)])
    users = get_user_model().objects.bulk_create([
        get_user_model()(username=f"bench-n-{i}", email=f"owner-{i}@bench.example") for i in range(tenants)])
    Membership.objects.bulk_create([Membership(tenant=t, user=u, role="owner") for t, u in zip(rows, users, strict=True)])
    return rows


def record(tenant, n):
    from notifications.actions import event_record

    return event_record(tenant=tenant, kind="server_built", payload={"server": f"s{n}", "path": "/servers/"})


def wait_until(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return False


def latency(tenant, repeats=20):
    seconds = []
    for n in range(repeats):
        before = len(mail.outbox)
        with transaction.atomic():
            record(tenant, n)
        committed = time.perf_counter()
        assert wait_until(lambda: len(mail.outbox) > before, 30), "a mail did not arrive"  # noqa: B023
        seconds.append(time.perf_counter() - committed)
    return {"median_ms": round(1000 * statistics.median(seconds), 1), "max_ms": round(1000 * max(seconds), 1)}


def burst(tenants, events):
    from notifications.models import Delivery

    rows = populate(tenants)
    mail.outbox.clear()
    started = time.perf_counter()
    for start in range(0, events, 500):
        with transaction.atomic():
            for n in range(start, min(events, start + 500)):
                record(rows[n % tenants], n)
    recorded = time.perf_counter() - started
    arrived = wait_until(lambda: len(mail.outbox) >= events, 1800)
    elapsed = time.perf_counter() - started
    time.sleep(2)  # anything sent twice would arrive now
    keys = [(m.extra_headers["X-Portal-Event"], m.to[0]) for m in mail.outbox]
    return {
        "events": events, "tenants": tenants, "mails": len(mail.outbox), "duplicates": len(keys) - len(set(keys)),
        "all_arrived": arrived, "record_seconds": round(recorded, 1), "seconds": round(elapsed, 1),
        "mails_per_second": round(len(mail.outbox) / elapsed, 1),
        "deliveries_sent": Delivery.objects.filter(event__tenant__slug__startswith="bench-n-", state="sent").count(),
    }


def bench_notifications(events=10000, tenants=1000, threads=16):
    logging.getLogger("celery").setLevel(logging.WARNING)  # a line per task would be most of the output
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    reset()
    with start_worker(celery_app, pool="threads", concurrency=threads, perform_ping_check=False, shutdown_timeout=30):
        results = {"latency": latency(populate(1)[0])}
        reset()
        results["burst"] = burst(tenants, events)
    reset()
    return results


if __name__ == "__main__":
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    args = [int(a) for a in sys.argv[1:3]]
    for case, figures in bench_notifications(*args).items():
        print(f"notifications {case:<10} {figures}")
