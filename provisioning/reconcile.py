"""Brings the database in line with Proxmox: one GET /cluster/resources per cluster.

Follows HA moves and changes made in the Proxmox UI, marks servers on failed nodes unavailable,
and flags drift for staff (servers missing in Proxmox, unknown guests in our VMID range, firewall
rules changed outside the portal). It never deletes anything by itself.
"""

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from tenants.audit import audit_record
from tenants.models import Duty

from . import bulk, engine, live, notices
from .models import Cluster, Drift, Firewall, Image, Node, Operation, Server
from .operations.firewall import as_written
from .proxmox import PVE, ProxmoxError

log = logging.getLogger(__name__)
GIB = 1024**3
MIB = 1024**2
# Storage types whose guest disks can be snapshotted (qcow2 on file storages, thin LVM, ZFS, Ceph).
SNAPSHOT_STORAGE_TYPES = {"lvmthin", "zfspool", "rbd", "dir", "nfs", "cifs", "btrfs", "cephfs"}
# What reconcile may change in a server row; the live figures go to the cache (provisioning/live.py).
SERVER_FIELDS = ["node", "status", "status_reason", "status_reason_params", "drift"]
LOADED = ("id", "tenant_id", "cluster_id", "node_id", "vmid", "status", "status_reason", "status_reason_params", "drift",
          "should_run", "auto_restart", "ha_enabled")
AUTO_RESTART_LIMIT = 3

# Status reasons, translated when shown (Server.reason).
MISSING = gettext_noop("Proxmox does not know this server any more; JIKU staff have been alerted.")
NODE_FAILED_HA = gettext_noop("Node %(node)s failed; high availability is restarting the server on another node.")
NODE_OFFLINE = gettext_noop("Node %(node)s is offline; the server is back when the node recovers.")
NODE_BOOTING = gettext_noop("Node %(node)s has just started again; the server is being started.")
STOPPED_UNEXPECTEDLY = gettext_noop(
    "Stopped unexpectedly: nobody stopped it through the portal. Start it again, or stop it here to keep it off."
)
RESTARTING = gettext_noop("Stopped unexpectedly; it is being started again.")
RESTARTS_EXHAUSTED = gettext_noop(
    "Stopped unexpectedly again; automatic restarts gave up after %(n)s tries within an hour. JIKU staff see it."
)
UNEXPECTED = {STOPPED_UNEXPECTEDLY, RESTARTING, RESTARTS_EXHAUSTED}


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
        cluster.save(update_fields=["last_reconciled_at", "reconcile_error", "snapshot_capable", "shared_storages"])
    stats["firewall_drift"] = _firewall_drift(cluster)
    return stats


def _firewall_drift(cluster):
    """Compare each written firewall with Proxmox's rules: one GET per server the portal wrote a
    firewall for. A difference is drift for staff; the next write from the portal resolves it."""
    firewalls = list(
        Firewall.objects.filter(server__cluster=cluster, applied_at__isnull=False, server__node__isnull=False,
                                server__status__in=[Server.Status.RUNNING, Server.Status.STOPPED])
        .exclude(server__operations__state__in=Operation.ACTIVE_STATES)
        .select_related("server__node").distinct()
    )
    if not firewalls:
        return 0
    pve = PVE(cluster)
    changed = {}
    for fw in firewalls:
        s = fw.server
        try:
            found = as_written(pve.firewall_rules(node=s.node.name, kind=s.kind, vmid=s.vmid))
        except ProxmoxError as exc:
            log.info("firewall of %s not read: %s", s, exc.message)
            continue
        if found != fw.applied_rules:
            changed[s.vmid] = (fw, found)
    open_drift = {d.vmid: d for d in Drift.objects.filter(cluster=cluster, kind=Drift.Kind.FIREWALL, resolved_at__isnull=True)}
    ignored = set(Drift.objects.filter(cluster=cluster, kind=Drift.Kind.FIREWALL, resolution=Drift.Resolution.IGNORED)
                  .values_list("vmid", flat=True))
    checked = {fw.server.vmid for fw in firewalls}
    new = [
        Drift(cluster=cluster, kind=Drift.Kind.FIREWALL, vmid=vmid, server=fw.server, node_name=fw.server.node.name,
              guest_name=fw.server.hostname[:100], details={"expected": fw.applied_rules, "found": found})
        for vmid, (fw, found) in changed.items() if vmid not in open_drift and vmid not in ignored
    ]
    Drift.objects.bulk_create(new)
    if new:
        notices.drift_found(cluster, new)
    gone = [d.pk for vmid, d in open_drift.items() if vmid in checked and vmid not in changed]
    Drift.objects.filter(pk__in=gone).update(resolved_at=timezone.now(), resolution=Drift.Resolution.GONE)
    return len(changed)


def _sync_nodes(cluster, resources, now):
    nodes = {n.name: n for n in cluster.nodes.all()}
    storage = {r["node"]: r for r in resources if r.get("type") == "storage" and r.get("storage") == cluster.storage}
    changed, went_away = [], []
    for entry in resources:
        if entry.get("type") != "node":
            continue
        node = nodes.get(entry["node"])
        if node is None:
            node = Node.objects.create(cluster=cluster, name=entry["node"])
            nodes[node.name] = node
        status = entry.get("status", "unknown")
        was_online = node.status == Node.Status.ONLINE
        node.status = status if status in (Node.Status.ONLINE, Node.Status.OFFLINE) else Node.Status.UNKNOWN
        if was_online and node.status != Node.Status.ONLINE:
            went_away.append(node)
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
    shared = sorted({r["storage"] for r in resources if r.get("type") == "storage" and r.get("shared")})
    if shared or any(r.get("type") == "storage" for r in resources):
        cluster.shared_storages = shared
    Node.objects.bulk_update(
        changed,
        ["status", "max_cores", "max_memory_mb", "cpu_usage", "memory_used_mb", "max_disk_gb", "disk_used_gb", "last_seen_at"],
    )
    if went_away:
        notices.nodes_offline(cluster, went_away)
    return nodes


def _sync_servers(cluster, resources, nodes, now):
    guests = {r["vmid"]: r for r in resources if r.get("type") in ("qemu", "lxc")}
    # A node that has just booted is still starting its guests (start at boot); judge them later.
    grace = settings.RECONCILE_BOOT_GRACE_SECONDS
    booting = {
        r["node"] for r in resources
        if r.get("type") == "node" and r.get("status") == "online" and int(r.get("uptime") or 0) < grace
    }
    busy = set(
        Operation.objects.filter(server__cluster=cluster, state__in=Operation.ACTIVE_STATES).values_list("server_id", flat=True)
    )
    # Only what reconcile decides on is loaded; only rows whose state changed are written (usually
    # none), so the cost per guest stays a few dictionary lookups, not a row write.
    servers = [
        _Row(*values) for values in Server.objects.filter(cluster=cluster, vmid__isnull=False)
        .exclude(status__in=[Server.Status.DELETED, Server.Status.FAILED]).values_list(*LOADED)
    ]
    known_vmids = {s.vmid for s in servers}
    missing, unexpected, figures = [], [], {}
    before = {server.pk: _state(server) for server in servers}
    for server in servers:
        _sync_server(server, guests.get(server.vmid), nodes, busy, booting, missing, unexpected, figures)
    restarted = _restart_where_jiku_or_customer_wants(unexpected, now)
    changed = [s for s in servers if _state(s) != before[s.pk]]
    bulk.update_rows(Server, changed, SERVER_FIELDS)
    _tell(changed, before, nodes)
    live.store(cluster.pk, figures, now)

    # Templates and the images' source guests are never drift, not even when an outage hides their
    # template flag (Proxmox reports guests of an offline node with status "unknown" only).
    sources = set(Image.objects.filter(cluster=cluster, template_vmid__isnull=False).values_list("template_vmid", flat=True))
    foreign = {
        vmid: g for vmid, g in guests.items()
        if cluster.vmid_min <= vmid <= cluster.vmid_max and vmid not in known_vmids and vmid not in sources
        and not g.get("template")
    }
    unknown = [g for g in foreign.values() if g.get("status") != "unknown"]
    _record_drift(cluster, missing, unknown, still_there=set(foreign))
    return {"guests": len(guests), "servers": len(servers), "missing": len(missing), "unknown": len(unknown),
            "stopped_unexpectedly": len(unexpected), "restarted": restarted}


class _Row:
    """A server as reconcile sees it: the loaded columns and the model's own transition rules,
    without building a model instance per guest (that alone was most of reconcile's time)."""

    __slots__ = LOADED
    TRANSITIONS = Server.TRANSITIONS
    can_transition = Server.can_transition
    transition = Server.transition

    def __init__(self, *values):
        for name, value in zip(LOADED, values, strict=True):
            setattr(self, name, value)

    @property
    def pk(self):
        return self.id


def _state(server):
    return (server.node_id, server.status, server.status_reason, server.status_reason_params, server.drift)


def _sync_server(server, guest, nodes, busy, booting, missing, unexpected, figures):
    """Bring one server row in line with its guest in /cluster/resources (None: Proxmox lacks it)."""
    if server.pk in busy or server.status in (Server.Status.BUILDING, Server.Status.DELETING):
        if guest is not None:
            _follow_node(server, guest, nodes)
        return
    if guest is None:
        server.drift = _("Missing in Proxmox")
        server.transition(Server.Status.UNAVAILABLE, MISSING, save=False)
        missing.append(server)
        return
    _follow_node(server, guest, nodes)
    server.drift = ""
    node = nodes.get(guest["node"])
    if guest.get("status") == "unknown" or (node and node.status != Node.Status.ONLINE):
        reason = NODE_FAILED_HA if server.ha_enabled else NODE_OFFLINE
        server.transition(Server.Status.UNAVAILABLE, reason, {"node": guest["node"]}, save=False)
    elif guest.get("status") == "running":
        server.transition(Server.Status.RUNNING, "", save=False)
        figures.setdefault(server.tenant_id, {})[server.pk] = (
            float(guest.get("cpu") or 0), int((guest.get("mem") or 0) / MIB), int(guest.get("uptime") or 0))
    elif server.should_run and guest["node"] in booting:
        server.transition(Server.Status.STOPPED, NODE_BOOTING, {"node": guest["node"]}, save=False)
    elif server.should_run:
        server.transition(Server.Status.STOPPED, STOPPED_UNEXPECTEDLY, save=False)
        unexpected.append(server)
    else:
        server.transition(Server.Status.STOPPED, "", save=False)


def _restart_where_jiku_or_customer_wants(servers, now):
    """Start servers that stopped unexpectedly where JIKU monitors them or the customer asked for it.

    A server that keeps stopping is not restarted forever: after AUTO_RESTART_LIMIT tries within an
    hour it stays stopped, flagged for the customer and staff.
    """
    if not servers:
        return 0
    ids = [row.pk for row in servers]
    full = Server.objects.select_related("tenant").prefetch_related("tenant__responsibilities").in_bulk(ids)
    since = now - timezone.timedelta(hours=1)
    recent = dict(
        Operation.objects.filter(server__in=ids, kind=Operation.Kind.START, params__auto_restart=True, created_at__gte=since)
        .values("server").annotate(n=Count("id")).values_list("server", "n")
    )
    started = 0
    for row in servers:
        server = full[row.pk]
        wanted = server.auto_restart or server.tenant.managed_by_jiku(Duty.MONITORING)
        if not wanted or not server.tenant.is_active:
            continue
        if recent.get(row.pk, 0) >= AUTO_RESTART_LIMIT:
            row.transition(Server.Status.STOPPED, RESTARTS_EXHAUSTED, {"n": AUTO_RESTART_LIMIT}, save=False)
            continue
        engine.operation_create(kind=Operation.Kind.START, server=server, params={"auto_restart": True})
        audit_record(action="server.auto_restart", tenant=server.tenant, obj=server)
        row.transition(Server.Status.STOPPED, RESTARTING, save=False)
        started += 1
    return started


def _tell(changed, before, nodes):
    """Node failures, recoveries and HA moves reach the tenants, unexpected stops reach staff
    (provisioning/notices.py), in reconcile's transaction; only servers whose node or status
    changed are loaded."""
    notable = [s for s in changed if before[s.pk][:2] != (s.node_id, s.status)]
    if not notable:
        return
    names = {node.pk: node.name for node in nodes.values()}
    full = Server.objects.select_related("tenant").in_bulk([s.pk for s in notable])
    notices.servers_changed([
        (full[s.pk], (names.get(before[s.pk][0]), *before[s.pk][1:4]),
         (names.get(s.node_id), s.status, s.status_reason, s.status_reason_params))
        for s in notable
    ])
    stopped = [full[s.pk] for s in notable if s.status == Server.Status.STOPPED and s.status_reason in UNEXPECTED]
    if stopped:
        notices.servers_stopped_unexpectedly(stopped)


def _follow_node(server, guest, nodes):
    node = nodes.get(guest.get("node"))
    if node is not None and server.node_id != node.pk:
        server.node_id = node.pk


def _record_drift(cluster, missing, unknown, still_there):
    guests = [Drift.Kind.MISSING, Drift.Kind.UNKNOWN]
    open_drift = {(d.kind, d.vmid): d for d in Drift.objects.filter(cluster=cluster, resolved_at__isnull=True,
                                                                     kind__in=guests)}
    ignored = set(
        Drift.objects.filter(cluster=cluster, resolution=Drift.Resolution.IGNORED, kind__in=guests)
        .values_list("kind", "vmid")
    )
    seen = set()
    new = []
    for server in missing:
        seen.add((Drift.Kind.MISSING, server.vmid))
        if (Drift.Kind.MISSING, server.vmid) not in open_drift and (Drift.Kind.MISSING, server.vmid) not in ignored:
            new.append(Drift(cluster=cluster, kind=Drift.Kind.MISSING, vmid=server.vmid, server_id=server.pk))
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
                    details={key: guest.get(key) for key in ("type", "status", "template", "maxcpu", "maxmem", "maxdisk")},
                )
            )
    Drift.objects.bulk_create(new)
    if new:
        notices.drift_found(cluster, new)
    # An unknown guest hidden by an outage is still there; only one Proxmox no longer lists is gone.
    seen |= {(Drift.Kind.UNKNOWN, vmid) for vmid in still_there}
    gone = [d.pk for key, d in open_drift.items() if key not in seen]
    Drift.objects.filter(pk__in=gone).update(resolved_at=timezone.now(), resolution=Drift.Resolution.GONE)
