"""Where a new server goes, which VMID and which IP it gets.

All three run inside the create transaction with the cluster row locked, so concurrent orders
queue here for a few milliseconds instead of colliding; the unique constraints on Server are the
second line of defence.
"""

import ipaddress

from django.db.models import Count, Q, Sum
from django.utils.translation import gettext as _

from . import units
from .models import Drift, Image, IPPool, Server


class PlacementError(Exception):
    pass


def node_allocations(cluster):
    """Cores, memory and disk promised to live servers, per node id."""
    rows = (
        Server.objects.live()
        .filter(cluster=cluster, node__isnull=False)
        .values("node")
        .annotate(cores=Sum("cores"), memory=Sum("memory_mb"), disk=Sum("disk_gb"), count=Count("id"))
    )
    return {r["node"]: r for r in rows}


def _free(node, alloc, cluster):
    used = alloc.get(node.pk, {"cores": 0, "memory": 0, "disk": 0})
    return (
        node.max_cores * float(cluster.cpu_overcommit) - used["cores"],
        node.max_memory_mb * float(cluster.memory_overcommit) - used["memory"],
        node.max_disk_gb - used["disk"],
    )


def choose_node(*, cluster, tenant, cores, memory_mb, disk_gb, exclude=(), only=None):
    """The tenant's dedicated nodes first, else shared nodes; the one with most free memory.

    `only` names the nodes allowed at all (those holding the image), None allows every node.
    """
    nodes = [
        n for n in cluster.nodes.all()
        if n.accepts_new_servers and n.pk not in exclude and (only is None or n.name in only)
    ]
    dedicated = [n for n in nodes if n.dedicated_tenant_id == tenant.pk]
    shared = [n for n in nodes if n.dedicated_tenant_id is None]
    alloc = node_allocations(cluster)
    for candidates in (dedicated, shared):
        fitting = []
        for node in candidates:
            free_cores, free_mem, free_disk = _free(node, alloc, cluster)
            if free_cores >= cores and free_mem >= memory_mb and free_disk >= disk_gb:
                fitting.append((free_mem, node.name, node))
        if fitting:
            return max(fitting, key=lambda f: (f[0], f[1]))[2]
    if not nodes and only is not None:
        raise PlacementError(_("No node holding this image accepts new servers right now."))
    if not nodes:
        raise PlacementError(_("No node in cluster %(cluster)s accepts new servers right now.") % {"cluster": cluster})
    best_mem = max(_free(n, alloc, cluster)[1] for n in nodes)
    if best_mem < memory_mb:
        raise PlacementError(
            _("No node with %(need)s free memory in cluster %(cluster)s (at most %(free)s free).")
            % {"need": units.memory(memory_mb), "cluster": cluster, "free": units.memory(int(max(best_mem, 0)))}
        )
    raise PlacementError(
        _("No node in cluster %(cluster)s has %(cores)s cores, %(mem)s memory and %(disk)s disk free.")
        % {"cluster": cluster, "cores": cores, "mem": units.memory(memory_mb), "disk": units.disk(disk_gb)}
    )


def check_pinned_node(*, node, cluster, tenant, cores, memory_mb, disk_gb):
    """A node chosen by staff must belong to the cluster, take servers, be ours to use and have room."""
    if node.cluster_id != cluster.pk:
        raise PlacementError(_("Node %(node)s is not part of cluster %(cluster)s.") % {"node": node.name, "cluster": cluster})
    if node.dedicated_tenant_id not in (None, tenant.pk):
        raise PlacementError(_("Node %(node)s is dedicated to another customer.") % {"node": node.name})
    if not node.accepts_new_servers:
        raise PlacementError(_("Node %(node)s does not accept new servers right now.") % {"node": node.name})
    free_cores, free_mem, free_disk = _free(node, node_allocations(cluster), cluster)
    if free_cores < cores or free_mem < memory_mb or free_disk < disk_gb:
        raise PlacementError(_("Node %(node)s has not enough free capacity for this server.") % {"node": node.name})


def allocate_vmid(cluster, skip=()):
    """Lowest VMID in the cluster's range that no server or template holds and no foreign guest uses."""
    taken = set(Server.objects.filter(cluster=cluster, vmid__isnull=False).values_list("vmid", flat=True))
    taken |= set(Image.objects.filter(cluster=cluster, template_vmid__isnull=False).values_list("template_vmid", flat=True))
    taken |= set(
        Drift.objects.filter(cluster=cluster, kind=Drift.Kind.UNKNOWN, resolved_at__isnull=True).values_list(
            "vmid", flat=True
        )
    )
    taken |= set(skip)
    for vmid in range(cluster.vmid_min, cluster.vmid_max + 1):
        if vmid not in taken:
            return vmid
    raise PlacementError(_("The VMID range of cluster %(cluster)s is exhausted.") % {"cluster": cluster})


def allocate_ipv4(cluster, node):
    """Lowest free address from the node's pool, else the cluster-wide pool; None if no pool."""
    pools = list(IPPool.objects.filter(Q(node=node) | Q(node__isnull=True), cluster=cluster).order_by("node", "id"))
    pools = [p for p in pools if p.version == 4]
    if not pools:
        return None, None
    used = set(Server.objects.filter(cluster=cluster, ipv4__isnull=False).values_list("ipv4", flat=True))
    for pool in sorted(pools, key=lambda p: p.node_id is None):
        start, end = ipaddress.ip_address(pool.range_start), ipaddress.ip_address(pool.range_end)
        addr = start
        while addr <= end:
            if str(addr) not in used and str(addr) != pool.gateway:
                return str(addr), pool
            addr += 1
    raise PlacementError(_("No free IPv4 address left in the pools of cluster %(cluster)s.") % {"cluster": cluster})


def allocate_ipv6(cluster, node):
    """Lowest free routed prefix from the node's IPv6 pool, else the cluster-wide one, and its first
    address; (None, None) if the cluster has no IPv6 pool.

    The prefix that holds the gateway stays with the router; uniqueness per cluster is also a
    database constraint, so two reservations can never hold the same prefix.
    """
    pools = list(IPPool.objects.filter(Q(node=node) | Q(node__isnull=True), cluster=cluster).order_by("node", "id"))
    pools = [p for p in pools if p.version == 6]
    if not pools:
        return None, None
    used = set(Server.objects.filter(cluster=cluster, ipv6_prefix__isnull=False).values_list("ipv6_prefix", flat=True))
    for pool in sorted(pools, key=lambda p: p.node_id is None):
        length = pool.server_prefixlen or 64
        network = ipaddress.ip_network(pool.network, strict=False)
        gateway = ipaddress.ip_address(pool.gateway)
        first = ipaddress.ip_network(f"{pool.range_start}/{length}", strict=False)
        last = ipaddress.ip_network(f"{pool.range_end}/{length}", strict=False)
        step = 1 << (128 - length)
        at = int(first.network_address)
        while at <= int(last.network_address):
            prefix = ipaddress.ip_network((at, length))
            if prefix.subnet_of(network) and str(prefix) not in used and gateway not in prefix:
                return str(prefix), str(prefix.network_address + 1)
            at += step
    raise PlacementError(_("No free IPv6 prefix left in the pools of cluster %(cluster)s.") % {"cluster": cluster})


def pool_for(server, version=4):
    """The pool an existing server's address came from (for gateway and prefix)."""
    address = server.ipv4 if version == 4 else server.ipv6
    return pool_containing(server.cluster, address) if address else None


def pool_containing(cluster, address):
    addr = ipaddress.ip_address(address)
    for pool in IPPool.objects.filter(cluster=cluster):
        network = ipaddress.ip_network(pool.network, strict=False)
        if network.version == addr.version and addr in network:
            return pool
    return None

