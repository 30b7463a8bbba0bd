"""API personas: tokens for alice (owner), bob (member) and charlie (owner of another tenant)."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from provisioning.models import Cluster, Image, IPPool, Node, Server
from services.models import Plan
from tenants.actions import api_token_create
from tests.provisioning.conftest import cluster, ct_image, pve, sim, vm_image, worker  # noqa: F401


@pytest.fixture
def token_for():
    """token_for(user, tenant, role=None, name="script", expires_days=None) -> the token text."""

    def make(user, tenant, role=None, name="script", expires_days=None):
        _token, text = api_token_create(tenant=tenant, user=user, name=name, role=role, expires_days=expires_days)
        return text

    return make


def client_with(text):
    client = APIClient()
    if text:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {text}")
    return client


@pytest.fixture
def api_for(token_for):
    """api_for(user, tenant, role=None) -> an APIClient sending a fresh token of that user."""

    def make(user, tenant, role=None, **kwargs):
        return client_with(token_for(user, tenant, role=role, **kwargs))

    return make


@pytest.fixture
def alice_api(api_for, alice, tenant_a):
    return api_for(alice, tenant_a)


@pytest.fixture
def bob_api(api_for, bob, tenant_a):
    return api_for(bob, tenant_a)


@pytest.fixture
def charlie_api(api_for, charlie, tenant_b):
    return api_for(charlie, tenant_b)


@pytest.fixture
def ct_plan(db):
    return Plan.objects.create(
        name="CT S", slug="ct-s", kind="lxc", cores=1, memory_mb=1024, disk_gb=10, price_monthly=Decimal("4.90")
    )


@pytest.fixture
def vm_plan(db):
    return Plan.objects.create(
        name="VM M", slug="vm-m", kind="qemu", cores=2, memory_mb=4096, disk_gb=40, price_monthly=Decimal("19.90")
    )


@pytest.fixture
def offline_cluster(db):
    """Rows only, no Proxmox behind them: for tests that never let an operation run."""
    offline = Cluster.objects.create(name="Offline", api_url="127.0.0.1:9", token_id="t@pve!t")
    Node.objects.create(cluster=offline, name="pve1", status=Node.Status.ONLINE, max_cores=64,
                        max_memory_mb=262144, max_disk_gb=4000)
    IPPool.objects.create(cluster=offline, name="public", network="198.51.100.0/24", gateway="198.51.100.1",
                          range_start="198.51.100.10", range_end="198.51.100.250")
    return offline


@pytest.fixture
def offline_image(offline_cluster):
    return Image.objects.create(cluster=offline_cluster, name="Debian 12 (container)", kind=Image.Kind.LXC,
                                volid="local:vztmpl/debian-12.tar.zst", min_disk_gb=2)


@pytest.fixture
def make_server(offline_cluster, offline_image):
    """A server row in a settled state, as if it had been built long ago."""
    counter = iter(range(200, 10000))

    def make(tenant, hostname="web", status=Server.Status.RUNNING, **extra):
        vmid = next(counter)
        return Server.objects.create(
            tenant=tenant, cluster=offline_cluster, node=offline_cluster.nodes.first(), kind="lxc",
            hostname=hostname, vmid=vmid, image=offline_image, cores=1, memory_mb=1024, disk_gb=10,
            status=status, **extra,
        )

    return make
