"""Steps of the safety-net operations (snapshots, backups, restores, HA, moves, staging).

As everywhere in the engine, a step first looks at Proxmox, so running it again after a crash
is harmless.
"""

import datetime
import json

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from tenants.audit import audit_record

from . import registry
from .models import Backup, BackupPolicy, Image, Node, Operation, Server, Snapshot
from .placement import pool_for
from .proxmox import ProxmoxError
from .retention import backups_to_prune

RESTORE_NEW_FAILED = gettext_noop("The restore into this new server failed and everything reserved for it was released.")
RESTORE_FAILED = gettext_noop("The restore failed. JIKU's staff see the cause and repair the server.")


def _s(ctx):
    return ctx.server


def _node(ctx):
    return ctx.server.node.name


# --- snapshots ---------------------------------------------------------------------------------
def _snapshot_names(ctx):
    s = _s(ctx)
    return {e["name"] for e in ctx.pve.snapshots(node=_node(ctx), kind=s.kind, vmid=s.vmid) if e["name"] != "current"}


def snapshot_take(ctx):
    s, p = _s(ctx), ctx.params
    if p["name"] in _snapshot_names(ctx):
        return None
    return ctx.pve.snapshot_create(
        node=_node(ctx), kind=s.kind, vmid=s.vmid, name=p["name"], description=p.get("description", ""),
        include_ram=p.get("include_ram", False),
    )


def snapshot_ready(ctx):
    s = _s(ctx)
    listing = {e["name"]: e for e in ctx.pve.snapshots(node=_node(ctx), kind=s.kind, vmid=s.vmid)}
    name = ctx.params["name"]
    Snapshot.objects.filter(server=s, name=name).update(ready=True, parent=listing.get(name, {}).get("parent", ""))


def rollback(ctx):
    s, p = _s(ctx), ctx.params
    return ctx.pve.snapshot_rollback(node=_node(ctx), kind=s.kind, vmid=s.vmid, name=p["name"], start=p.get("start"))


def rollback_done(ctx):
    server = _s(ctx)
    status = ctx.pve.guest_status(_node(ctx), server.kind, server.vmid) or {}
    running = status.get("status") == "running"
    server.transition(Server.Status.RUNNING if running else Server.Status.STOPPED)
    server.should_run = running
    server.save(update_fields=["should_run"])


def snapshot_remove(ctx):
    s, name = _s(ctx), ctx.params["name"]
    if name not in _snapshot_names(ctx):
        return None
    return ctx.pve.snapshot_delete(node=_node(ctx), kind=s.kind, vmid=s.vmid, name=name)


def snapshot_forget(ctx):
    Snapshot.objects.filter(server=_s(ctx), name=ctx.params["name"]).delete()


# --- backups ----------------------------------------------------------------------------------------
def _backup_listing(ctx, vmid):
    s = _s(ctx)
    return ctx.pve.backups(node=s.node.name, storage=s.cluster.backup_storage, vmid=vmid)


def follow_guest(ctx):
    """The guest's status on the node it is on now, moving the server row there; None if no node has it.

    After an HA move, reconcile may not have run yet: a task sent to the old node would fail, a
    delete would think the guest gone, and a vzdump sent there even "succeeds" without backing
    anything up (Proxmox answers "OK").
    """
    s = _s(ctx)
    if s.node:
        try:
            status = ctx.pve.guest_status(s.node.name, s.kind, s.vmid)
        except ProxmoxError as exc:
            if exc.status != 595:
                raise
            status = None  # its node is unreachable: HA may have moved the guest away from it
        if status is not None:
            return status
    current = ctx.pve.locate(s.vmid)
    if current is None:
        return None
    node = Node.objects.get(cluster=s.cluster, name=current)
    Server.objects.filter(pk=s.pk).update(node=node)
    s.node = node
    return ctx.pve.guest_status(node.name, s.kind, s.vmid)


def vzdump(ctx):
    s, p = _s(ctx), ctx.params
    if follow_guest(ctx) is None:
        raise ProxmoxError(f"{s.kind.upper()} {s.vmid} does not exist on any node of the cluster")
    # Remember what existed, so the new archive can be told apart after a crash as well.
    if "known" not in p:
        p["known"] = sorted(e["volid"] for e in _backup_listing(ctx, s.vmid))
        ctx.op.save(update_fields=["params"])
    upid = ctx.pve.vzdump(
        node=_node(ctx), vmid=s.vmid, storage=s.cluster.backup_storage, mode=p.get("mode", "snapshot"),
        notes=p.get("notes", ""), protected=p.get("protected", False),
    )
    if not str(upid).startswith("UPID:"):
        # Proxmox's silent exit: the guest is not on that node, and no backup was made.
        raise ProxmoxError(f"vzdump on {_node(ctx)} answered {upid!r} without a task: {s.kind} {s.vmid} is not on that node",
                           retryable=True)
    return upid


def backup_record(ctx):
    s, p = _s(ctx), ctx.params
    known = set(p.get("known", []))
    for entry in _backup_listing(ctx, s.vmid):
        if entry["volid"] in known:
            continue
        Backup.objects.get_or_create(
            cluster=s.cluster,
            volid=entry["volid"],
            defaults=dict(
                tenant=s.tenant, server=s, node=s.node.name, storage=s.cluster.backup_storage, kind=s.kind,
                hostname=s.hostname, cores=s.cores, memory_mb=s.memory_mb, disk_gb=s.disk_gb,
                size_bytes=entry.get("size", 0), notes=(entry.get("notes") or p.get("notes", ""))[:200],
                protected=bool(entry.get("protected")), scheduled=bool(p.get("policy")),
                created_at=datetime.datetime.fromtimestamp(entry.get("ctime", timezone.now().timestamp()), tz=datetime.UTC),
            ),
        )


def backup_prune(ctx):
    """After a scheduled backup: keep what the policy says, remove the rest (never protected ones)."""
    policy = BackupPolicy.objects.filter(pk=ctx.params.get("policy")).first() if ctx.params.get("policy") else None
    if policy is None:
        return
    kept = list(Backup.objects.kept().filter(server=_s(ctx), scheduled=True))
    for backup in backups_to_prune(kept, policy, tz=_s(ctx).tenant.time_zone):
        _delete_volume(ctx, backup)
    policy.last_run_at, policy.last_status, policy.last_error = timezone.now(), "ok", ""
    policy.save(update_fields=["last_run_at", "last_status", "last_error"])


def _delete_volume(ctx, backup):
    try:
        ctx.pve.volume_delete(node=backup.node, storage=backup.storage, volid=backup.volid)
    except ProxmoxError as exc:
        if "does not exist" not in exc.message and "no such" not in exc.message.lower():
            raise
    backup.deleted_at = timezone.now()
    backup.save(update_fields=["deleted_at"])


def backup_remove(ctx):
    backup = Backup.objects.get(pk=ctx.params["backup"])
    if backup.deleted_at is None:
        _delete_volume(ctx, backup)


def backup_set_protection(ctx):
    backup = Backup.objects.get(pk=ctx.params["backup"])
    protected = ctx.params["protected"]
    ctx.pve.volume_protect(node=backup.node, storage=backup.storage, volid=backup.volid, protected=protected)
    backup.protected = protected
    backup.save(update_fields=["protected"])


# --- restore --------------------------------------------------------------------------------------------
def restore(ctx):
    s, p = _s(ctx), ctx.params
    status = ctx.pve.guest_status(_node(ctx), s.kind, s.vmid)
    if p.get("new") and status is not None:
        # Our restore already began before a crash: let Proxmox finish it.
        from .engine import Yield

        return Yield(1.0) if status.get("lock") else None
    backup = Backup.objects.get(pk=p["backup"])
    return ctx.pve.restore(
        node=_node(ctx), kind=s.kind, vmid=s.vmid, volid=backup.volid, storage=s.cluster.storage,
        force=not p.get("new"), unique=bool(p.get("new")),
    )


def readdress(ctx):
    """A restored or cloned guest carries the old name and address; give it this server's."""
    s = _s(ctx)
    pool = pool_for(s)
    # A backup of a server made before start-at-boot existed carries onboot=0; this one starts with its node.
    if s.kind == Server.Kind.QEMU:
        ipconfig = f"ip={s.ipv4}/{pool.prefixlen},gw={pool.gateway},ip6=auto" if pool else "ip=dhcp,ip6=auto"
        ctx.pve.configure_vm(node=_node(ctx), vmid=s.vmid, name=s.hostname, ipconfig0=ipconfig, onboot=True)
    else:
        ip = f"{s.ipv4}/{pool.prefixlen},gw={pool.gateway}" if pool else "dhcp"
        ctx.pve.configure_ct(
            node=_node(ctx), vmid=s.vmid, hostname=s.hostname, net0=f"name=eth0,bridge={s.cluster.bridge},ip={ip},ip6=auto",
            onboot=True,
        )


def start_if_was_running(ctx):
    if not ctx.params.get("was_running"):
        return None
    s = _s(ctx)
    status = ctx.pve.guest_status(_node(ctx), s.kind, s.vmid) or {}
    if status.get("status") == "running":
        return None
    return ctx.pve.power(node=_node(ctx), kind=s.kind, vmid=s.vmid, action="start")


# --- HA and moves -----------------------------------------------------------------------------------------
def ha_apply(ctx):
    s, enabled = _s(ctx), ctx.params["enabled"]
    try:
        if enabled:
            # The requested state follows the server's power state.
            state = "started" if s.status == Server.Status.RUNNING else "stopped"
            ctx.pve.ha_add(kind=s.kind, vmid=s.vmid, state=state)
        else:
            ctx.pve.ha_remove(kind=s.kind, vmid=s.vmid)
    except ProxmoxError as exc:
        # Done before a crash: the resource is already there, or already gone.
        if "already defined" not in exc.message and "not HA managed" not in exc.message:
            raise
    s.ha_enabled = enabled
    s.save(update_fields=["ha_enabled"])


def migrate(ctx):
    s = _s(ctx)
    target = Node.objects.get(pk=ctx.params["target"])
    status = ctx.pve.guest_status(target.name, s.kind, s.vmid)
    if status is not None and not status.get("lock"):
        return None  # already there
    return ctx.pve.migrate(
        node=_node(ctx), kind=s.kind, vmid=s.vmid, target=target.name, running=s.status == Server.Status.RUNNING
    )


def migrate_done(ctx):
    # A drain goes on with the next server once this operation has reported its own outcome (engine).
    s = _s(ctx)
    s.node = Node.objects.get(pk=ctx.params["target"])
    s.save(update_fields=["node"])


# --- staging -------------------------------------------------------------------------------------------------
def staging_clone(ctx):
    s = _s(ctx)
    existing = ctx.pve.guest_status(_node(ctx), s.kind, s.vmid)
    if existing is not None:
        from .engine import Yield

        return Yield(1.0) if existing.get("lock") else None
    source = Server.objects.select_related("node").get(pk=ctx.params["source"])
    return ctx.pve.clone_guest(
        node=source.node.name, kind=s.kind, vmid=source.vmid, newid=s.vmid, hostname=s.hostname,
        target=_node(ctx), storage=s.cluster.storage,
    )


def promote_snapshot(ctx):
    if not ctx.params.get("snapshots"):
        return None
    ctx.params.setdefault("name", ctx.params["snapshot"])
    return snapshot_take(ctx)


def promote_swap(ctx):
    """Swap names and addresses in Proxmox, then in the database, exactly once."""
    production = _s(ctx)
    staging = Server.objects.select_related("node", "cluster").get(pk=ctx.params["staging"])
    if not ctx.params.get("swapped"):
        with transaction.atomic():
            prod_name, prod_ip = production.hostname, production.ipv4
            stag_name, stag_ip = staging.hostname, staging.ipv4
            Server.objects.filter(pk=production.pk).update(hostname=f"promote-{production.pk}", ipv4=None)
            Server.objects.filter(pk=staging.pk).update(hostname=prod_name, ipv4=prod_ip, staging_of=None)
            Server.objects.filter(pk=production.pk).update(hostname=stag_name, ipv4=stag_ip, staging_of=staging)
            ctx.params["swapped"] = True
            ctx.op.save(update_fields=["params"])
    for server in (Server.objects.select_related("node", "cluster").get(pk=pk) for pk in (production.pk, staging.pk)):
        ctx.server = server
        readdress(ctx)
        if server.status == Server.Status.RUNNING:
            # Cloud-init applies the new address on the next boot.
            ctx.pve.power(node=server.node.name, kind=server.kind, vmid=server.vmid, action="reboot")
    ctx.server = Server.objects.get(pk=production.pk)


def promote_handover(ctx):
    """What belongs to the production role moves to the new production server, exactly once:
    the backup schedule with its retention, high availability and the link to its history.

    Backups made so far stay with the old server (now the staging copy): they hold its data.
    """
    old = _s(ctx)
    new = Server.objects.select_related("node", "cluster", "tenant").get(pk=ctx.params["staging"])
    if old.ha_enabled and not ctx.params.get("ha_moved"):
        ctx.params["ha_moved"] = True  # saved first: a successor finishes the move even when half done
        ctx.op.save(update_fields=["params"])
    if ctx.params.get("ha_moved"):
        for server, enable in ((new, True), (old, False)):
            if server.ha_enabled != enable:
                ctx.server = server
                ctx.params["enabled"] = enable
                ha_apply(ctx)
        ctx.params.pop("enabled", None)
    policy = BackupPolicy.objects.filter(server=old).select_related("periodic_task").first()
    if policy is not None:
        # The copy's own test schedule, if any, gives way to production's.
        for stale in BackupPolicy.objects.filter(server=new).select_related("periodic_task"):
            if stale.periodic_task:
                stale.periodic_task.delete()
            stale.delete()
        policy.server = new
        policy.save(update_fields=["server"])
        if policy.periodic_task:
            policy.periodic_task.args = json.dumps([new.pk])
            policy.periodic_task.name = f"backup policy {new.public_id}"
            policy.periodic_task.save(update_fields=["args", "name"])
    if new.predecessor_id != old.pk:
        Server.objects.filter(pk=new.pk).update(predecessor=old)
        audit_record(action="staging.promoted", tenant=new.tenant, obj=new,
                     details={"replaced": old.hostname, "schedule_moved": policy is not None,
                              "ha_moved": bool(ctx.params.get("ha_moved"))})
    ctx.server = old


def on_failure(op):
    """What a failed safety operation leaves behind: nothing reserved, the reason where users look."""
    if op.kind == Operation.Kind.SNAPSHOT:
        Snapshot.objects.filter(server=op.server_id, name=op.params.get("name"), ready=False).delete()
    elif op.kind == Operation.Kind.PROMOTE and not op.params.get("swapped"):
        Snapshot.objects.filter(server=op.server_id, name=op.params.get("snapshot"), ready=False).delete()
    elif op.kind == Operation.Kind.BACKUP and op.params.get("policy"):
        from .tasks import run_backup_policy

        policy = BackupPolicy.objects.filter(server=op.server_id).first()
        if policy:
            policy.last_run_at, policy.last_status, policy.last_error = timezone.now(), "failed", op.error
            policy.save(update_fields=["last_run_at", "last_status", "last_error"])
            if not op.params.get("retry"):
                # A failed scheduled backup is tried once more a little later.
                transaction.on_commit(lambda: run_backup_policy.apply_async((op.server_id, True), countdown=300))
    elif op.kind == Operation.Kind.DOWNLOAD:
        if op.params.get("more_nodes"):
            # The image stays offered on the nodes that have it; staff read why the others failed.
            Image.objects.filter(pk=op.params.get("image")).update(status_error=op.error[:1000])
        else:
            image_failed(op)
        if op.params.get("oci"):
            oci_remove_pulled(op)

    elif op.kind == Operation.Kind.RESTORE:
        server = Server.objects.get(pk=op.server_id)
        if op.params.get("new"):
            server.transition(Server.Status.FAILED, RESTORE_NEW_FAILED)
            server.release()
        else:
            server.transition(Server.Status.UNAVAILABLE, RESTORE_FAILED)


# --- marketplace downloads ------------------------------------------------------------------------
def image_failed(op):
    Image.objects.filter(pk=op.params.get("image")).update(status=Image.Status.FAILED, status_error=op.error[:1000])


def _has_file(ctx, node, volid):
    return volid in {e["volid"] for e in ctx.pve.templates_on(node=node, storage=ctx.pve.cluster.template_storage)}


def download_on(node):
    """Download the appliance on one node, unless it is there already; keep the index's checksum."""

    def run(ctx):
        image = Image.objects.get(pk=ctx.params["image"])
        if _has_file(ctx, node, image.volid):
            return None
        entry = next((e for e in ctx.pve.appliances(node) if e.get("template") == ctx.params["template"]), None)
        if entry is None:
            raise ProxmoxError(f"no such template in the appliance index of {node}: {ctx.params['template']}")
        if not image.checksum:
            # Proxmox checks the download against this checksum from the index itself.
            image.checksum = entry.get("sha512sum") or entry.get("md5sum") or ""
            image.description = entry.get("headline") or entry.get("description", "")[:500]
            image.save(update_fields=["checksum", "description"])
        return ctx.pve.appliance_download(node=node, storage=ctx.pve.cluster.template_storage, template=ctx.params["template"])

    return run


def _oci(ctx):
    return registry.parse(ctx.params["oci"])


def _pinned_digest(ctx):
    try:
        return registry.resolve(_oci(ctx))
    except registry.RegistryError as exc:
        raise ProxmoxError(str(exc), retryable=exc.retryable) from exc


def oci_pin(ctx):
    """Pin the image to the digest its tag names now, or check the digest staff gave."""
    digest = _pinned_digest(ctx)
    expected = ctx.params.get("digest")
    if expected and digest != expected:
        raise ProxmoxError(_("The tag points at %(now)s, not at the pinned %(pinned)s; nothing was pulled.") % {"now": digest, "pinned": expected})
    ctx.params["digest"] = digest
    ctx.op.save(update_fields=["params"])
    Image.objects.filter(pk=ctx.params["image"]).update(checksum=digest)


def oci_clear_on(node):
    """A file of that name already on the node is not ours to trust (a pull that failed to clean up)."""

    def run(ctx):
        volid = Image.objects.get(pk=ctx.params["image"]).volid
        if _has_file(ctx, node, volid):
            return ctx.pve.volume_delete(node=node, storage=ctx.pve.cluster.template_storage, volid=volid)
        return None

    return run


def oci_pull_on(node):
    def run(ctx):
        image = Image.objects.get(pk=ctx.params["image"])
        if _has_file(ctx, node, image.volid):
            return None  # our own pull, started before a worker crash
        ref = _oci(ctx)
        return ctx.pve.oci_pull(node=node, storage=ctx.pve.cluster.template_storage, reference=ref.pull_name, filename=ref.filename)

    return run


def oci_verify(ctx):
    """After the pulls: every node has the file and the tag still names the pinned digest."""
    image = Image.objects.get(pk=ctx.params["image"])
    for node in ctx.params["nodes"]:
        if not _has_file(ctx, node, image.volid):
            raise ProxmoxError(_("Proxmox did not store the image as %(volid)s on %(node)s.") % {"volid": image.volid, "node": node})
    digest = _pinned_digest(ctx)
    if digest != ctx.params["digest"]:
        raise ProxmoxError(_("The tag moved to %(now)s while Proxmox pulled it; the pulled files may not be the pinned %(pinned)s and were removed.") % {"now": digest, "pinned": ctx.params["digest"]})


def oci_remove_pulled(op):
    """A failed OCI import leaves no files of unknown content on the nodes."""
    from .proxmox import PVE

    image = Image.objects.select_related("cluster").filter(pk=op.params.get("image")).first()
    if image is None:
        return
    pve, storage = PVE(image.cluster), image.cluster.template_storage
    for node in op.params.get("nodes", []):
        try:
            pve.volume_delete(node=node, storage=storage, volid=image.volid)
        except ProxmoxError:
            pass  # not pulled there, or the node is away; staff see the failure either way


def download_done(ctx):
    with transaction.atomic():
        image = Image.objects.select_for_update().get(pk=ctx.params["image"])
        image.nodes = sorted(set(image.nodes) | set(ctx.params["nodes"]))
        image.status, image.status_error = Image.Status.READY, ""
        image.save(update_fields=["nodes", "status", "status_error"])


# --- own templates --------------------------------------------------------------------------------
def template_convert(ctx):
    s = _s(ctx)
    status = ctx.pve.guest_status(_node(ctx), s.kind, s.vmid) or {}
    if status.get("template"):
        return None
    return ctx.pve.make_template(node=_node(ctx), kind=s.kind, vmid=s.vmid)


def template_done(ctx):
    """The guest belongs to the image now: the server leaves its tenant and gives back quota and address."""
    from .steps import retire

    s = _s(ctx)
    Image.objects.filter(pk=ctx.params["image"]).update(status=Image.Status.READY, status_error="")
    s.transition(Server.Status.DELETED, s.status_reason, s.status_reason_params)
    retire(s)
