"""Node graphs for staff pages: rrddata is copied into NodeMetrics rows by a beat task, so pages never call Proxmox."""

import logging

from .models import Cluster, Node, NodeMetrics
from .proxmox import PVE, ProxmoxError

log = logging.getLogger(__name__)


def _compact(entries):
    points = []
    for e in entries:
        if "time" not in e or "cpu" not in e:
            continue  # the newest row is still being filled and has no values yet
        memtotal = e.get("memtotal") or e.get("maxmem") or 0
        mem = (e.get("memused") or e.get("mem") or 0) / memtotal if memtotal else 0
        points.append([int(e["time"]), round(float(e.get("cpu") or 0), 4), round(float(mem), 4)])
    return sorted(points)


def refresh_cluster(cluster, timeframe="hour"):
    """One rrddata call per online node; a node that does not answer keeps its last graph."""
    pve = PVE(cluster)
    refreshed = 0
    for node in cluster.nodes.filter(status=Node.Status.ONLINE):
        try:
            entries = pve.node_rrddata(node.name, timeframe=timeframe)
        except ProxmoxError as exc:
            log.warning("rrddata of %s failed: %s", node, exc.message)
            continue
        NodeMetrics.objects.update_or_create(node=node, defaults={"timeframe": timeframe, "points": _compact(entries)})
        refreshed += 1
    return refreshed


def refresh_all():
    for cluster in Cluster.objects.filter(active=True):
        try:
            refresh_cluster(cluster)
        except ProxmoxError as exc:
            log.warning("metrics of %s failed: %s", cluster, exc.message)
