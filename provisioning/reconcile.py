"""Brings the database in line with Proxmox: one GET /cluster/resources per cluster.

Follows HA moves and changes made in the Proxmox UI, marks servers on failed nodes unavailable,
and flags drift for staff (servers missing in Proxmox, unknown guests in our VMID range). It
never deletes anything by itself.
"""

import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import engine
from .models import Cluster, Drift, Node, Operation, Server
from .proxmox import PVE, ProxmoxError

log = logging.getLogger(__name__)
GIB = 1024**3
MIB = 1024**2
# Storage types whose guest disks can be snapshotted (qcow2 on file storages, thin LVM, ZFS, Ceph).
SNAPSHOT_STORAGE_TYPES = {"lvmthin", "zfspool", "rbd", "dir", "nfs", "cifs", "btrfs", "cephfs"}
SERVER_FIELDS = ["node", "status", "status_reason", "cpu_usage", "memory_used_mb", "uptime", "drift", "last_seen_at"]


def reconcile_all():
    for cluster in Cluster.objects.filter(active=True):
        reconcile_cluster(cluster)
    engine.sweep()


def reconcile_cluster(cluster):
    """Returns counts of what changed, for staff pages and benchmarks."""
    try:
        resources = PVE(cluster).resources()
    except ProxmoxError as exc:
        cluster.reconcile_error = exc.message
        cluster.save(update_fields=["reconcile_error"])
        log.warning("reconcile of %s failed: %s", cluster, exc.message)
        return {"error": exc.message}
    now = timezone.now()
    with transaction.atomic():
        nodes = _sync_nodes(cluster, resources, now)
        stats = _sync_servers(cluster, resources, nodes, now)
        cluster.last_reconciled_at = now
        cluster.reconcile_error = ""
        cluster.save(update_fields=["last_reconciled_at", "reconcile_error", "snapshot_capable"])
    return stats


def _sync_nodes(cluster, resources, now):
    nodes = {n.name: n for n in cluster.nodes.all()}
    storage = {r["node"]: r for r in resources if r.get("type") == "storage" and r.get("storage") == cluster.storage}
    changed = []
    for entry in resources:
        if entry.get("type") != "node":
            continue
        node = nodes.get(entry["node"])
        if node is None:
            node = Node.objects.create(cluster=cluster, name=entry["node"])
            nodes[node.name] = node
        status = entry.get("status", "unknown")
        node.status = status if status in (Node.Status.ONLINE, Node.Status.OFFLINE) else Node.Status.UNKNOWN
        if node.status == Node.Status.ONLINE:
            node.max_cores = int(entry.get("maxcpu") or node.max_cores)
            node.max_memory_mb = int((entry.get("maxmem") or 0) / MIB) or node.max_memory_mb
            node.cpu_usage = float(entry.get("cpu") or 0)
            node.memory_used_mb = int((entry.get("mem") or 0) / MIB)
            disk = storage.get(node.name)
            if disk:
                node.max_disk_gb = int((disk.get("maxdisk") or 0) / GIB)
                node.disk_used_gb = int((disk.get("disk") or 0) / GIB)
            node.last_seen_at = now
        changed.append(node)
    kinds = {entry.get("plugintype") for entry in storage.values()}
    if kinds:
        cluster.snapshot_capable = kinds <= SNAPSHOT_STORAGE_TYPES
    Node.objects.bulk_update(
        changed,
        ["status", "max_cores", "max_memory_mb", "cpu_usage", "memory_used_mb", "max_disk_gb", "disk_used_gb", "last_seen_at"],
    )
    return nodes


def _sync_servers(cluster, resources, nodes, now):
    guests = {r["vmid"]: r for r in resources if r.get("type") in ("qemu", "lxc")}
    busy = set(
        Operation.objects.filter(server__cluster=cluster, state__in=Operation.ACTIVE_STATES).values_list("server_id", flat=True)
    )
    servers = list(
        Server.objects.filter(cluster=cluster, vmid__isnull=False).exclude(status__in=[Server.Status.DELETED, Server.Status.FAILED])
    )
    known_vmids = {s.vmid for s in servers}
    changed, missing = [], []
    for server in servers:
        guest = guests.get(server.vmid)
        if server.pk in busy or server.status in (Server.Status.BUILDING, Server.Status.DELETING):
            if guest is not None:
                _follow_node(server, guest, nodes)
                changed.append(server)
            continue
        if guest is None:
            server.drift = _("Missing in Proxmox")
            server.transition(Server.Status.UNAVAILABLE, _("Proxmox does not know this server any more; JIKU staff have been alerted."), save=False)
            missing.append(server)
            changed.append(server)
            continue
        _follow_node(server, guest, nodes)
        server.drift = ""
        server.last_seen_at = now
        node = nodes.get(guest["node"])
        if guest.get("status") == "unknown" or (node and node.status != Node.Status.ONLINE):
            reason = (
                _("Node %(node)s failed; high availability is restarting the server on another node.")
                if server.ha_enabled
                else _("Node %(node)s is offline; the server is back when the node recovers.")
            ) % {"node": guest["node"]}
            server.transition(Server.Status.UNAVAILABLE, reason, save=False)
        else:
            running = guest.get("status") == "running"
            server.transition(Server.Status.RUNNING if running else Server.Status.STOPPED, "", save=False)
            server.cpu_usage = float(guest.get("cpu") or 0)
            server.memory_used_mb = int((guest.get("mem") or 0) / MIB)
            server.uptime = int(guest.get("uptime") or 0)
        changed.append(server)
    Server.objects.bulk_update(changed, SERVER_FIELDS, batch_size=1000)

    unknown = [
        g
        for vmid, g in guests.items()
        if cluster.vmid_min <= vmid <= cluster.vmid_max and vmid not in known_vmids and not g.get("template")
    ]
    _record_drift(cluster, missing, unknown)
    return {"guests": len(guests), "servers": len(servers), "missing": len(missing), "unknown": len(unknown)}


def _follow_node(server, guest, nodes):
    node = nodes.get(guest.get("node"))
    if node is not None and server.node_id != node.pk:
        server.node = node


def _record_drift(cluster, missing, unknown):
    open_drift = {(d.kind, d.vmid): d for d in Drift.objects.filter(cluster=cluster, resolved_at__isnull=True)}
    ignored = set(
        Drift.objects.filter(cluster=cluster, resolution=Drift.Resolution.IGNORED).values_list("kind", "vmid")
    )
    seen = set()
    new = []
    for server in missing:
        seen.add((Drift.Kind.MISSING, server.vmid))
        if (Drift.Kind.MISSING, server.vmid) not in open_drift and (Drift.Kind.MISSING, server.vmid) not in ignored:
            new.append(Drift(cluster=cluster, kind=Drift.Kind.MISSING, vmid=server.vmid, server=server))
    for guest in unknown:
        seen.add((Drift.Kind.UNKNOWN, guest["vmid"]))
        if (Drift.Kind.UNKNOWN, guest["vmid"]) not in open_drift and (Drift.Kind.UNKNOWN, guest["vmid"]) not in ignored:
            new.append(
                Drift(
                    cluster=cluster,
                    kind=Drift.Kind.UNKNOWN,
                    vmid=guest["vmid"],
                    node_name=guest.get("node", ""),
                    guest_name=guest.get("name", "")[:100],
                    details={key: guest.get(key) for key in ("type", "status", "maxcpu", "maxmem", "maxdisk")},
                )
            )
    Drift.objects.bulk_create(new)
    gone = [d.pk for key, d in open_drift.items() if key not in seen]
    Drift.objects.filter(pk__in=gone).update(resolved_at=timezone.now(), resolution=Drift.Resolution.GONE)
