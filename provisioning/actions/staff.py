"""Staff actions: suspension, failed operations, drift, maintenance and cluster checks.

Called from the Django admin and the staff pages (portal/staff); every one writes the audit trail
with via=admin. They act for JIKU, so a suspended tenant does not block them.
"""

import datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from notifications.actions import event_record
from provisioning import engine, rdns
from provisioning.models import Cluster, Drift, Image, Node, Operation, Server
from provisioning.node_metrics import refresh_cluster
from provisioning.proxmox import PVE, ProxmoxError
from provisioning.reconcile import reconcile_cluster
from tenants.audit import audit_record
from tenants.models import AuditEvent, Tenant

from .servers import lock_server, validate_hostname

ADMIN = AuditEvent.Via.ADMIN
SUSPENSION_KEY = "suspension"  # params of the stop operations a suspension queued
RESUME_KEY = "after_suspension"  # params of the start operations an unsuspension queued

# What the portal's token needs (FACTS.md section 17); "test connection" names what is missing.
REQUIRED_PRIVILEGES = (
    "VM.Allocate", "VM.Clone", "VM.Config.Disk", "VM.Config.CPU", "VM.Config.Memory", "VM.Config.Network",
    "VM.Config.Options", "VM.Config.Cloudinit", "VM.PowerMgmt", "VM.Audit", "VM.Snapshot", "VM.Snapshot.Rollback",
    "VM.Backup", "VM.Migrate", "VM.Console", "Datastore.AllocateSpace", "Datastore.Audit",
    "Datastore.AllocateTemplate", "Sys.Audit", "Sys.Console", "Pool.Allocate",
    # The tenants' security groups and their IP sets live in the cluster's firewall.
    "Sys.Modify",
)


# --- tenants -----------------------------------------------------------------------------------
def check_reason(reason: str) -> str:
    """Far-reaching staff actions say why; the reason goes into the audit trail the customer sees."""
    if not (reason or "").strip():
        raise ValidationError(_("Please give a reason; it is kept in the audit trail."), code="reason")
    return reason.strip()


def tenant_suspend(
    *, tenant: Tenant, reason: str, user: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
):
    """Block self-service and stop the tenant's running servers; unsuspension restarts exactly those."""
    reason = check_reason(reason)
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
        if tenant.status == Tenant.Status.SUSPENDED:
            raise ValidationError(_("%(tenant)s is suspended already.") % {"tenant": tenant})
        tenant.status = Tenant.Status.SUSPENDED
        tenant.save(update_fields=["status"])
        ops = [
            engine.operation_create(server=server, kind=Operation.Kind.STOP, params={SUSPENSION_KEY: True}, user=user)
            for server in Server.objects.for_tenant(tenant).filter(status=Server.Status.RUNNING).select_for_update()
        ]
        audit_record(
            action="tenant.suspend", tenant=tenant, request=request, actor=user, obj=tenant, via=ADMIN,
            details={"reason": reason, "stopped": [op.server.hostname for op in ops]},
        )
    return ops


def tenant_unsuspend(
    *, tenant: Tenant, user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
):
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
        if tenant.status != Tenant.Status.SUSPENDED:
            raise ValidationError(_("%(tenant)s is not suspended.") % {"tenant": tenant})
        tenant.status = Tenant.Status.ACTIVE
        tenant.save(update_fields=["status"])
        resumed = set(
            Operation.objects.for_tenant(tenant)
            .filter(kind=Operation.Kind.START, params__has_key=RESUME_KEY)
            .values_list(f"params__{RESUME_KEY}", flat=True)
        )
        stops = (
            Operation.objects.for_tenant(tenant)
            .filter(kind=Operation.Kind.STOP, params__has_key=SUSPENSION_KEY)
            .exclude(state__in=[Operation.State.FAILED, Operation.State.CANCELLED])
            .exclude(pk__in=[pk for pk in resumed if pk is not None])
            .select_related("server")
            .order_by("pk")
        )
        ops = []
        for stop in stops:
            server = lock_server(stop.server)
            if server.status in (Server.Status.DELETING, Server.Status.DELETED, Server.Status.FAILED):
                continue
            ops.append(
                engine.operation_create(server=server, kind=Operation.Kind.START, params={RESUME_KEY: stop.pk}, user=user)
            )
        audit_record(
            action="tenant.unsuspend", tenant=tenant, request=request, actor=user, obj=tenant, via=ADMIN,
            details={"started": [op.server.hostname for op in ops]},
        )
    return ops


# --- operations --------------------------------------------------------------------------------
def operation_cancel(
    *, operation: Operation, reason: str, user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
) -> Operation:
    """A failed operation is dismissed; a queued one that has not touched Proxmox yet is withdrawn and undone."""
    reason = check_reason(reason)
    with transaction.atomic():
        op = Operation.objects.select_for_update().get(pk=operation.pk)
        now = timezone.now()
        if op.state == Operation.State.FAILED:
            op.state = Operation.State.CANCELLED
            op.save(update_fields=["state", "updated_at"])
        else:
            # Conditional: a worker that claimed the row a moment ago keeps it.
            withdrawn = Operation.objects.filter(
                pk=op.pk, state__in=[Operation.State.QUEUED, Operation.State.WAITING], step=0, upid=""
            ).update(state=Operation.State.CANCELLED, error=_("Cancelled by JIKU staff: %(reason)s") % {"reason": reason},
                     finished_at=now, updated_at=now)
            if not withdrawn:
                raise ValidationError(
                    _("Only a failed operation or one that has not started in Proxmox yet can be cancelled.")
                )
            op.refresh_from_db()
            # Undo what the action reserved, exactly as a failure before the first step would.
            engine.compensate(op)
            nxt = (
                Operation.objects.filter(server=op.server_id, state=Operation.State.QUEUED)
                .exclude(pk=op.pk)
                .order_by("id")
                .values_list("pk", flat=True)
                .first()
            )
            if op.server_id and nxt:
                engine.enqueue_on_commit(nxt)
        audit_record(action="operation.cancel", tenant=op.tenant, request=request, actor=user, obj=op, via=ADMIN,
                     details={"reason": reason})
    return op


# --- drift -------------------------------------------------------------------------------------
def _open_drift(drift, kind):
    drift = Drift.objects.select_for_update(of=("self",)).select_related("cluster", "server").get(pk=drift.pk)
    if drift.resolved_at is not None:
        raise ValidationError(_("This drift is resolved already."))
    if kind is not None and drift.kind != kind:
        raise ValidationError(_("This resolution does not fit this kind of drift."))
    return drift


def _resolve(drift, resolution):
    drift.resolved_at = timezone.now()
    drift.resolution = resolution
    drift.save(update_fields=["resolved_at", "resolution", "last_seen_at"])


def adopt_defaults(drift):
    """Form defaults for adopting an unknown guest, from what reconcile saw."""
    d = drift.details or {}
    return {
        "hostname": (drift.guest_name or f"guest-{drift.vmid}").lower()[:63],
        "kind": d.get("type") if d.get("type") in Server.Kind.values else Server.Kind.QEMU,
        "cores": int(d.get("maxcpu") or 1),
        "memory_mb": int((d.get("maxmem") or 512 * 1024**2) / 1024**2),
        "disk_gb": max(int((d.get("maxdisk") or 1024**3) / 1024**3), 1),
    }


def server_adopt(
    *, drift: Drift, tenant: Tenant, hostname: str, kind: str, cores: int, memory_mb: int, disk_gb: int,
    user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
) -> Server:
    """An unknown guest in the portal's VMID range becomes a server of `tenant`, as it is."""
    validate_hostname(hostname)
    if kind not in Server.Kind.values:
        raise ValidationError({"kind": _("Choose a virtual machine or a container.")})
    if min(cores, memory_mb, disk_gb) <= 0:
        raise ValidationError(_("Cores, memory and disk must be positive."))
    with transaction.atomic():
        drift = _open_drift(drift, Drift.Kind.UNKNOWN)
        tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
        if Server.objects.for_tenant(tenant).live().filter(hostname=hostname).exists():
            raise ValidationError({"hostname": _("%(tenant)s already has a server called %(name)s.") % {"tenant": tenant, "name": hostname}})
        if Server.objects.filter(cluster=drift.cluster, vmid=drift.vmid).exists():
            raise ValidationError(_("VMID %(vmid)s belongs to a server already.") % {"vmid": drift.vmid})
        details = drift.details or {}
        if details.get("template") or Image.objects.filter(cluster=drift.cluster, template_vmid=drift.vmid).exists():
            raise ValidationError(_("VMID %(vmid)s is a template or an image's source; it can never become a customer's server.")
                                  % {"vmid": drift.vmid})
        if details.get("status") in (None, "unknown"):
            raise ValidationError(_("Proxmox cannot say right now what VMID %(vmid)s is (its node is offline); adopt it once the node is back.")
                                  % {"vmid": drift.vmid})
        running = (drift.details or {}).get("status") == "running"
        server = Server.objects.create(
            tenant=tenant, cluster=drift.cluster, node=Node.objects.filter(cluster=drift.cluster, name=drift.node_name).first(),
            kind=kind, hostname=hostname, vmid=drift.vmid, cores=cores, memory_mb=memory_mb, disk_gb=disk_gb,
            status=Server.Status.RUNNING if running else Server.Status.STOPPED, created_by=user,
        )
        drift.server = server
        drift.save(update_fields=["server"])
        _resolve(drift, Drift.Resolution.ADOPTED)
        audit_record(action="server.adopt", tenant=tenant, request=request, actor=user, obj=server, via=ADMIN,
                     details={"vmid": drift.vmid, "cluster": drift.cluster.name, "node": drift.node_name})
    return server


def drift_ignore(*, drift: Drift, user: AbstractBaseUser | None = None, request: HttpRequest | None = None) -> Drift:
    with transaction.atomic():
        drift = _open_drift(drift, None)
        _resolve(drift, Drift.Resolution.IGNORED)
        audit_record(action="drift.ignore", tenant=drift.server.tenant if drift.server else None, request=request,
                     actor=user, obj=drift, via=ADMIN, details={"vmid": drift.vmid, "cluster": drift.cluster.name})
    return drift


def drift_mark_deleted(
    *, drift: Drift, user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
) -> Drift:
    """A server Proxmox no longer has is written off: it leaves the tenant's list and frees its VMID and address."""
    with transaction.atomic():
        drift = _open_drift(drift, Drift.Kind.MISSING)
        server = lock_server(drift.server) if drift.server else None
        if server is not None:
            if engine.server_is_busy(server):
                raise ValidationError(_("An operation on this server is still running; cancel it first."))
            server.transition(Server.Status.DELETING)
            server.transition(Server.Status.DELETED, gettext_noop("Deleted outside the portal."))
            rdns.forget(server)
            server.release()
        _resolve(drift, Drift.Resolution.DELETED)
        audit_record(action="drift.mark_deleted", tenant=server.tenant if server else None, request=request,
                     actor=user, obj=server or drift, via=ADMIN, details={"vmid": drift.vmid})
    return drift


# --- nodes and clusters ------------------------------------------------------------------------
def node_set_maintenance(
    *, node: Node, maintenance: bool, user: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
) -> Node:
    """Maintenance keeps new servers off the node; ending it also ends draining."""
    with transaction.atomic():
        node = Node.objects.select_for_update().get(pk=node.pk)
        node.maintenance = bool(maintenance)
        if not maintenance:
            node.draining = False
        node.save(update_fields=["maintenance", "draining"])
        audit_record(action="node.maintenance_on" if maintenance else "node.maintenance_off", request=request,
                     actor=user, obj=node, via=ADMIN)
    return node


def node_maintenance_announce(
    *, node: Node, starts_at: datetime.datetime, ends_at: datetime.datetime, note: str = "",
    user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
) -> int:
    """Tell every tenant with a server on the node about planned maintenance, in advance; returns
    how many tenants were told. The node itself is put into maintenance when the work starts."""
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": _("The end must come after the start.")})
    if starts_at <= timezone.now():
        raise ValidationError({"starts_at": _("Announce maintenance before it starts.")})
    servers = (Server.objects.filter(node=node).exclude(status__in=[Server.Status.DELETED, Server.Status.FAILED])
               .select_related("tenant").order_by("tenant_id", "hostname"))
    by_tenant = {}
    for server in servers:
        by_tenant.setdefault(server.tenant, []).append(server.hostname)
    with transaction.atomic():
        for tenant, hostnames in by_tenant.items():
            event_record(tenant=tenant, kind="maintenance_planned", subject_object=node, payload={
                "node": node.name, "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat(),
                "note": note.strip(), "servers": hostnames, "path": reverse("provisioning:server_list")})
        audit_record(action="node.maintenance_announced", request=request, actor=user, obj=node, via=ADMIN,
                     details={"starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat(),
                              "tenants": len(by_tenant)})
    return len(by_tenant)


def node_register_vds(
    *, cluster: Cluster, name: str, tenant: Tenant, cores: int, memory_mb: int, disk_gb: int,
    user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
) -> Node:
    """A customer's VDS (sold in an offer) becomes a dedicated node awaiting installation.

    The sizes sold are kept, so the node that joins the cluster later is checked against them.
    """
    with transaction.atomic():
        node = Node.objects.select_for_update().filter(cluster=cluster, name=name).first()
        if node is None:
            node = Node.objects.create(
                cluster=cluster, name=name, kind=Node.Kind.VDS, provider=Node.Provider.HOSTER, nested=True,
                dedicated_tenant=tenant, status=Node.Status.AWAITING, max_cores=cores, max_memory_mb=memory_mb,
                max_disk_gb=disk_gb,
            )
        elif node.dedicated_tenant_id not in (None, tenant.pk) or (
            Server.objects.live().filter(node=node).exclude(tenant=tenant).exists()
        ):
            raise ValidationError(_("Node %(node)s already serves another customer.") % {"node": node.name})
        node.dedicated_tenant, node.kind, node.nested = tenant, Node.Kind.VDS, True
        node.sold_cores, node.sold_memory_mb, node.sold_disk_gb = cores, memory_mb, disk_gb
        node.save(update_fields=["dedicated_tenant", "kind", "nested", "sold_cores", "sold_memory_mb", "sold_disk_gb"])
        audit_record(action="node.vds_registered", tenant=tenant, request=request, actor=user, obj=node,
                     details={"cores": cores, "memory_mb": memory_mb, "disk_gb": disk_gb})
    return node


def node_check_joined(
    *, node: Node, user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
) -> Node:
    """Staff "check now" for an awaited node: reconcile its cluster, which links a joined node by its name.

    Returns the node as reconcile left it: online once Proxmox lists it, with `capacity_shortfall`
    naming what it lacks against what was sold.
    """
    stats = reconcile_cluster(Cluster.objects.get(pk=node.cluster_id))
    node.refresh_from_db()
    node.missing_templates = []
    if node.status == Node.Status.ONLINE:
        wanted = set(Image.objects.filter(cluster=node.cluster, kind=Image.Kind.LXC, source=Image.Source.OS, active=True)
                     .exclude(volid="").values_list("volid", flat=True))
        try:
            present = {e["volid"] for e in PVE(node.cluster).templates_on(node=node.name, storage=node.cluster.template_storage)}
        except ProxmoxError:
            present = wanted  # cannot tell; the build would say so
        node.missing_templates = sorted(wanted - present)
    audit_record(action="node.check_joined", tenant=node.dedicated_tenant, request=request, actor=user, obj=node,
                 via=ADMIN, details={"status": node.status, "error": stats.get("error", ""),
                                     "missing_templates": node.missing_templates,
                                     "shortfall": [str(label) for label, _s, _f in node.capacity_shortfall]})
    if "error" in stats:
        raise ValidationError(_("The cluster could not be asked: %(error)s") % stats)
    return node


def cluster_test_connection(
    *, cluster: Cluster, user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
):
    """Synchronous staff check: version, nodes and the token's missing privileges. Never raises for Proxmox."""
    result = {"ok": False, "version": "", "nodes": [], "missing": [], "error": ""}
    try:
        pve = PVE(cluster)
        result["version"] = pve.version().get("version", "")
        result["nodes"] = sorted(
            ({"name": n.get("node"), "status": n.get("status"), "maxcpu": n.get("maxcpu"), "maxmem": n.get("maxmem")}
             for n in pve.nodes()),
            key=lambda n: n["name"] or "",
        )
        granted = pve.permissions(path="/").get("/", {})
        result["missing"] = [p for p in REQUIRED_PRIVILEGES if not granted.get(p)]
        result["ok"] = not result["missing"]
    except ProxmoxError as exc:
        result["error"] = exc.message
    audit_record(action="cluster.test_connection", request=request, actor=user, obj=cluster, via=ADMIN,
                 details={k: result[k] for k in ("ok", "version", "missing", "error")} | {"nodes": [n["name"] for n in result["nodes"]]})
    return result


def cluster_reconcile(
    *, cluster: Cluster, user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
):
    """Staff "reconcile now": the same reconcile the beat runs, plus fresh node graphs."""
    cluster = Cluster.objects.get(pk=cluster.pk)
    stats = reconcile_cluster(cluster)
    if "error" not in stats:
        try:
            refresh_cluster(cluster)
        except ProxmoxError:
            pass
    audit_record(action="cluster.reconcile", request=request, actor=user, obj=cluster, via=ADMIN, details=stats)
    return stats
