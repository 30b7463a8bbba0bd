"""Clients for the staff personas (defined in tests/conftest.py) and rows for staff pages."""

import pytest

from provisioning.models import Cluster, Node, Operation, Server
from tests.conftest import client_for
from tests.provisioning.conftest import cluster, ct_image, pve, sim, vm_image, worker  # noqa: F401 - shared fixtures


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
