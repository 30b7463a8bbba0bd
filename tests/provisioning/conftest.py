"""Real parts: pvesim over HTTPS, PostgreSQL, and a Celery worker consuming from Redis."""

import contextlib
import ipaddress
import os
import time
from pathlib import Path

import dns.exception
import dns.resolver
import pytest
import requests
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings
from django.db.models import Q
from django.utils import timezone

from portal.celery import app as celery_app
from provisioning.models import Cluster, Image, IPPool, Operation
from provisioning.reconcile import reconcile_cluster
from pvesim import Simulator

DEBIAN_CT = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"


@pytest.fixture(scope="session")
def sim():
    simulator = Simulator(scenario="demo", time_scale=0.0, schema_path=os.environ.get("PVESIM_SCHEMA") or None)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def pve(sim):
    """A fresh simulated cluster for each test."""
    sim.reset()
    sim.set_time_scale(0.0)
    yield sim
    sim.clear_faults()


def make_cluster(sim, name="Test"):
    cluster = Cluster(
        name=name,
        api_url=f"127.0.0.1:{sim.port}",
        token_id=sim.token_id,
        ca_cert=Path(sim.ca_cert_path).read_text(),
        backup_storage="backup",  # shared, so a backup restores on any node
    )
    cluster.token_secret = sim.token_secret
    cluster.save()
    reconcile_cluster(cluster)
    IPPool.objects.create(
        cluster=cluster,
        name="public",
        network="192.0.2.0/24",
        gateway="192.0.2.1",
        range_start="192.0.2.10",
        range_end="192.0.2.250",
    )
    return cluster


@pytest.fixture
def cluster(transactional_db, pve):
    return make_cluster(pve)


@pytest.fixture
def v6_pool(cluster):
    """A routed /64 per server; the gateway is the router's link-local address."""
    return IPPool.objects.create(
        cluster=cluster, name="public-v6", network="2001:db8::/48", gateway="fe80::1",
        range_start="2001:db8:0:100::", range_end="2001:db8:0:1ff::", server_prefixlen=64,
    )


@pytest.fixture
def vm_image(cluster):
    return Image.objects.create(
        cluster=cluster,
        name="Debian 12",
        kind=Image.Kind.QEMU,
        template_vmid=9000,
        template_node="pve",
        os_family="debian",
        default_user="debian",
        cloud_init=True,
        min_disk_gb=4,
    )


@pytest.fixture
def windows_image(cluster):
    return Image.objects.create(
        cluster=cluster, name="Windows Server 2022", kind=Image.Kind.QEMU, template_vmid=9002, template_node="pve",
        os_family="windows", default_user="Administrator", cloud_init=True, min_disk_gb=32,
    )


@pytest.fixture
def ct_image(cluster):
    return Image.objects.create(
        cluster=cluster, name="Debian 12 (container)", kind=Image.Kind.LXC, volid=DEBIAN_CT, min_disk_gb=2
    )


@contextlib.contextmanager
def running_worker(concurrency=4):
    """A real Celery worker (threads) consuming from the test Redis. Before it stops, the operations it
    is running and the mails and webhooks they queued are let finish: a write cut off mid-way holds
    locks that make the next test's database flush fail (a deadlock in TRUNCATE)."""
    with start_worker(celery_app, pool="threads", concurrency=concurrency, perform_ping_check=False, shutdown_timeout=20) as w:
        try:
            yield w
        finally:
            try:
                operations_at_rest()
                notifications_settled()
            except AssertionError:
                pass  # the test itself reports what went wrong; stopping the worker must go on


@pytest.fixture
def worker(transactional_db):
    with running_worker() as w:
        yield w


def wait_for(predicate, timeout=30, interval=0.1, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}")


def operations_at_rest(timeout=30):
    """Wait until no operation is being run: a test that ends right after ordering (the build goes on
    in the worker) would otherwise have its rows written while the database is flushed. Parked
    operations (waiting for Proxmox or a retry) are at rest: nothing runs them until they are due."""
    def busy():
        # Queued a moment ago: its task is on the broker and a worker thread takes it any instant.
        just_queued = Q(state=Operation.State.QUEUED, not_before__isnull=True,
                        updated_at__gte=timezone.now() - timezone.timedelta(seconds=5))
        return Operation.objects.filter(Q(state=Operation.State.RUNNING) | just_queued).exists()

    wait_for(lambda: not busy(), timeout=timeout, message="operations at rest")


def notifications_settled(timeout=30):
    """Wait until the events an operation recorded are fanned out and their mails sent, so a worker
    stopped afterwards leaves nothing half-written while the test database is flushed."""
    from notifications.models import Delivery, Event

    wait_for(lambda: not Event.objects.filter(fanned_out_at__isnull=True).exists()
             and not Delivery.objects.filter(state__in=["pending", "sending"]).exists(),
             timeout=timeout, message="notifications delivered")


def wait_done(op, timeout=30):
    def finished():
        op.refresh_from_db()
        return op.state in (Operation.State.SUCCEEDED, Operation.State.FAILED)

    wait_for(finished, timeout=timeout, message=f"operation {op.kind} to finish")
    return op


FORWARD = "example.test"


class PowerDNS:
    """The test's view of the PowerDNS that scripts/with-services.sh started: zones through its API,
    answers through dnspython, the way any resolver would ask."""

    def __init__(self):
        self.api = f"{django_settings.PDNS_API_URL}/api/v1/servers/localhost/zones"
        self.headers = {"X-API-Key": django_settings.PDNS_API_KEY}
        host, port = django_settings.DNS_RESOLVER.rsplit(":", 1)
        self.resolver = dns.resolver.Resolver(configure=False)
        self.resolver.nameservers, self.resolver.port, self.resolver.lifetime = [host], int(port), 3

    def zones(self):
        return [z["name"] for z in requests.get(self.api, headers=self.headers, timeout=5).json()]

    def clear(self):
        for zone in self.zones():
            requests.delete(f"{self.api}/{zone}", headers=self.headers, timeout=5).raise_for_status()

    def forward(self, name, address):
        """Point name at address in the forward zone (created on first use)."""
        if f"{FORWARD}." not in self.zones():
            requests.post(self.api, headers=self.headers, timeout=5,
                          json={"name": f"{FORWARD}.", "kind": "Native", "nameservers": []}).raise_for_status()
        rtype = "A" if ipaddress.ip_address(address).version == 4 else "AAAA"
        rrset = {"name": f"{name}.", "type": rtype, "ttl": 60, "changetype": "REPLACE",
                 "records": [{"content": address, "disabled": False}]}
        requests.patch(f"{self.api}/{FORWARD}.", headers=self.headers, timeout=5, json={"rrsets": [rrset]}).raise_for_status()

    def ptr(self, address):
        """The PTR name PowerDNS answers for address, or None."""
        try:
            answer = self.resolver.resolve(ipaddress.ip_address(address).reverse_pointer, "PTR")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
            return None  # NoNameservers: REFUSED, PowerDNS holds no zone for it (yet)
        except dns.exception.DNSException as exc:
            pytest.fail(f"PowerDNS did not answer: {exc}")
        return str(answer[0].target)


@pytest.fixture
def pdns(transactional_db):
    if not django_settings.PDNS_API_URL:
        if os.environ.get("CI"):
            pytest.fail("PowerDNS is not running: scripts/with-services.sh starts it when pdns-server is installed")
        pytest.skip("PowerDNS not started (install pdns-server and pdns-backend-sqlite3, run through scripts/with-services.sh)")
    server = PowerDNS()
    server.clear()
    yield server
    server.clear()
