"""A worker killed (SIGKILL) between recording an event and delivering it: the mail still arrives,
exactly once. The worker is a real Celery process, as in tests/provisioning/test_faults.py."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.db import transaction
from django.utils import timezone

from notifications import actions
from notifications.models import Delivery
from tests.provisioning.conftest import running_worker, wait_for

pytestmark = pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgres"),
                                reason="needs a shared PostgreSQL")


def subprocess_worker(smtp_port):
    db = django_settings.DATABASES["default"]
    env = dict(
        os.environ,
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(smtp_port),
    )
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", "worker", "-P", "solo", "-c", "1", "--without-heartbeat",
         "--without-mingle", "--without-gossip", "-l", "WARNING"],
        env=env, cwd=django_settings.BASE_DIR,
    )


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_delivery_still_delivers_exactly_once(tenant_a):
    # An SMTP server that takes the connection and never greets: the worker hangs holding its
    # claimed delivery, after the event was recorded and fanned out, before any mail left.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    proc = subprocess_worker(silent.getsockname()[1])
    try:
        with transaction.atomic():
            actions.event_record(tenant=tenant_a, kind="server_built",
                                 payload={"server": "files", "path": "/servers/x/"})
        wait_for(lambda: Delivery.objects.filter(state=Delivery.State.SENDING).exists(), timeout=90,
                 message="the worker to hold a delivery")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        silent.close()
    assert mail.outbox == [] and Delivery.objects.count() == 2
    assert not Delivery.objects.filter(state=Delivery.State.SENT).exists()
    # Time passes: the dead worker's lease runs out (LEASE_SECONDS) and the sweep looks again.
    Delivery.objects.filter(state=Delivery.State.SENDING).update(lease_until=timezone.now() - timezone.timedelta(seconds=1))
    with running_worker(concurrency=2):
        actions.notifications_sweep(older_than_seconds=0)
        wait_for(lambda: Delivery.objects.filter(state=Delivery.State.SENT).count() == 2, timeout=60,
                 message="both deliveries sent")
        actions.notifications_sweep(older_than_seconds=0)  # nothing is left to pick up
        time.sleep(2)
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "bob@example.com"]
    # The same mail twice, once to each (in the language the dead worker's fan-out chose).
    assert len({m.subject for m in mail.outbox}) == 1 and "files" in mail.outbox[0].subject
