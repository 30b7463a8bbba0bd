"""Backups: vzdump, what the schedule keeps, protection and deletion, restores in place and into new servers."""

import datetime

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from provisioning.models import Backup, BackupPolicy, Operation, Server
from provisioning.proxmox import ProxmoxError
from provisioning.retention import backups_to_prune

from . import build, guests
from .base import FollowUp, Recipe, Step, register, sync
from .guests import CHECK_VMID, FINISH_RUNNING, READDRESS, START, STOP, node_name
from .snapshots import settle

LABELS = {
    **guests.LABELS,
    "vzdump": _("Backing up"),
    "record": _("Recording backup"),
    "prune": _("Removing old backups"),
    "restore": _("Restoring backup"),
    "backup_delete": _("Deleting backup"),
    "protect": _("Changing protection"),
}
RESTORE_NEW_FAILED = gettext_noop("The restore into this new server failed and everything reserved for it was released.")
RESTORE_FAILED = gettext_noop("The restore failed. JIKU's staff see the cause and repair the server.")
RETRY_TASK = "provisioning.tasks.run_backup_policy"
RETRY_AFTER_SECONDS = 300


def listing(ctx, vmid):
    s = ctx.server
    return ctx.pve.backups(node=s.node.name, storage=s.cluster.backup_storage, vmid=vmid)


def vzdump(ctx):
    s, p = ctx.server, ctx.params
    if guests.follow_guest(ctx) is None:
        raise ProxmoxError(f"{s.kind.upper()} {s.vmid} does not exist on any node of the cluster")
    # Remember what existed, so the new archive can be told apart after a crash as well.
    if "known" not in p:
        p["known"] = sorted(e["volid"] for e in listing(ctx, s.vmid))
        ctx.op.save(update_fields=["params"])
    upid = ctx.pve.vzdump(
        node=node_name(ctx), vmid=s.vmid, storage=s.cluster.backup_storage, mode=p.get("mode", "snapshot"),
        notes=p.get("notes", ""), protected=p.get("protected", False),
    )
    if not str(upid).startswith("UPID:"):
        # Proxmox's silent exit: the guest is not on that node, and no backup was made.
        raise ProxmoxError(f"vzdump on {node_name(ctx)} answered {upid!r} without a task: {s.kind} {s.vmid} is not on that node",
                           retryable=True)
    return upid


def record(ctx):
    s, p = ctx.server, ctx.params
    known = set(p.get("known", []))
    for entry in listing(ctx, s.vmid):
        if entry["volid"] in known:
            continue
        Backup.objects.get_or_create(
            cluster=s.cluster,
            volid=entry["volid"],
            defaults=dict(
                tenant=s.tenant, server=s, node=s.node.name, storage=s.cluster.backup_storage, kind=s.kind,
                hostname=s.hostname, cores=s.cores, memory_mb=s.memory_mb, disk_gb=s.disk_gb,
                size_bytes=entry.get("size", 0), notes=(entry.get("notes") or p.get("notes", ""))[:200],
                protected=bool(entry.get("protected")), scheduled=bool(p.get("scheduled")),
                created_at=datetime.datetime.fromtimestamp(entry.get("ctime", timezone.now().timestamp()), tz=datetime.UTC),
            ),
        )


def prune(ctx):
    """After a scheduled backup: keep what the policy says, remove the rest (never protected ones)."""
    if not ctx.params.get("scheduled"):
        return
    policy = BackupPolicy.objects.filter(server=ctx.server).first()
    if policy is None:
        return
    kept = list(Backup.objects.kept().filter(server=ctx.server, scheduled=True))
    for backup in backups_to_prune(kept, policy, tz=ctx.server.tenant.time_zone):
        delete_volume(ctx, backup)
    policy.last_run_at, policy.last_status, policy.last_error = timezone.now(), "ok", ""
    policy.save(update_fields=["last_run_at", "last_status", "last_error"])


def delete_volume(ctx, backup):
    try:
        ctx.pve.volume_delete(node=backup.node, storage=backup.storage, volid=backup.volid)
    except ProxmoxError as exc:
        if "does not exist" not in exc.message and "no such" not in exc.message.lower():
            raise
    backup.deleted_at = timezone.now()
    backup.save(update_fields=["deleted_at"])


def remove(ctx):
    backup = ctx.op.backup
    if backup.deleted_at is None:
        delete_volume(ctx, backup)


def set_protection(ctx):
    backup, protected = ctx.op.backup, ctx.params["protected"]
    ctx.pve.volume_protect(node=backup.node, storage=backup.storage, volid=backup.volid, protected=protected)
    backup.protected = protected
    backup.save(update_fields=["protected"])


def restore(ctx):
    s, p = ctx.server, ctx.params
    status = ctx.pve.guest_status(node_name(ctx), s.kind, s.vmid)
    if p.get("new") and status is not None:
        # Our restore already began before a crash: let Proxmox finish it.
        return guests.wait_while_locked(status)
    return ctx.pve.restore(
        node=node_name(ctx), kind=s.kind, vmid=s.vmid, volid=ctx.op.backup.volid, storage=s.cluster.storage,
        force=not p.get("new"), unique=bool(p.get("new")),
    )


def start_if_was_running(ctx):
    if not ctx.params.get("was_running"):
        return None
    s = ctx.server
    if (guests.guest_status(ctx) or {}).get("status") == "running":
        return None
    return ctx.pve.power(node=node_name(ctx), kind=s.kind, vmid=s.vmid, action="start")


def _backup_failed(op):
    """A failed scheduled backup shows on the server page (the schedule's last result)."""
    if not op.params.get("scheduled"):
        return
    BackupPolicy.objects.filter(server=op.server_id).update(last_run_at=timezone.now(), last_status="failed",
                                                            last_error=op.error)


def _backup_follow_ups(op):
    # A failed scheduled backup is tried once more a little later.
    if op.state == Operation.State.FAILED and op.params.get("scheduled") and not op.params.get("retry"):
        return [FollowUp(RETRY_TASK, (op.server_id, True), countdown=RETRY_AFTER_SECONDS)]
    return []


def restore_steps(op):
    if op.params.get("new"):
        return [CHECK_VMID, Step("restore", restore), READDRESS, START, FINISH_RUNNING]
    return [STOP, Step("restore", restore), Step("start", start_if_was_running), sync("finish", settle)]


def _restore_failed(op):
    if op.params.get("new"):
        build.discard(op, restore_steps(op), RESTORE_NEW_FAILED)
    else:
        Server.objects.get(pk=op.server_id).transition(Server.Status.UNAVAILABLE, RESTORE_FAILED)


register(
    Recipe(Operation.Kind.BACKUP, lambda op: [Step("vzdump", vzdump), sync("record", record), sync("prune", prune)],
           on_failure=_backup_failed, follow_ups=_backup_follow_ups, labels=LABELS),
    Recipe(Operation.Kind.BACKUP_DELETE, lambda op: [sync("backup_delete", remove)], labels=LABELS),
    Recipe(Operation.Kind.BACKUP_PROTECT, lambda op: [sync("protect", set_protection)], labels=LABELS),
    Recipe(Operation.Kind.RESTORE, restore_steps, on_failure=_restore_failed, labels=LABELS),
)
