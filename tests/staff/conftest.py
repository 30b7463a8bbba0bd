"""Staff personas: dora the JIKU admin, otto the operator, sam from sales (no superusers)."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from provisioning.models import Cluster, Node, Operation, Server
from tenants.staff_roles import ADMIN, OPERATOR, SALES, sync_groups
from tests.conftest import make_user
from tests.provisioning.conftest import cluster, ct_image, pve, sim, vm_image, worker  # noqa: F401 - shared fixtures


def make_staff(email, group):
    # Flushes between transactional tests drop the migration's groups; recreate them.
    sync_groups()
    user = make_user(email, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def dora(db):
    return make_staff("dora@jiku.example", ADMIN)


@pytest.fixture
def otto(db):
    return make_staff("otto@jiku.example", OPERATOR)


@pytest.fixture
def sam(db):
    return make_staff("sam@jiku.example", SALES)


def client_for(user):
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def dora_client(dora):
    return client_for(dora)


@pytest.fixture
def otto_client(otto):
    return client_for(otto)


@pytest.fixture
def sam_client(sam):
    return client_for(sam)


@pytest.fixture
def offline_cluster(db):
    """Rows only, no Proxmox behind them: for pages that read the database."""
    rows = Cluster.objects.create(name="Frankfurt", api_url="127.0.0.1:1", token_id="portal@pve!t")
    for name in ("pve", "pve2", "pve3"):
        Node.objects.create(
            cluster=rows, name=name, status=Node.Status.ONLINE, max_cores=32, max_memory_mb=131072, max_disk_gb=100
        )
    return rows


def make_servers(tenant, in_cluster, count, start=0):
    nodes = list(in_cluster.nodes.all())
    servers = []
    for i in range(start, start + count):
        server = Server.objects.create(
            tenant=tenant, cluster=in_cluster, node=nodes[i % len(nodes)], kind=Server.Kind.QEMU, hostname=f"srv{i}",
            vmid=1000 + i, cores=1, memory_mb=1024, disk_gb=10, status=Server.Status.RUNNING,
        )
        Operation.objects.create(tenant=tenant, server=server, kind=Operation.Kind.START, state=Operation.State.FAILED, error="boom")
        servers.append(server)
    return servers
