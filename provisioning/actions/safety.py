"""The safety net: snapshots, backups and restores, backup schedules, HA, moves and staging.

Snapshot and backup operations queue behind whatever runs on the server (a backup in
progress holds Proxmox's lock), instead of failing.
"""

import datetime
import json
import re

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from provisioning import engine
from provisioning.models import Backup, BackupPolicy, Node, Operation, Server, Snapshot
from provisioning.placement import PlacementError, choose_node
from tenants.audit import audit_record

from .duties import require_duty
from .servers import ensure_active, lock_server, no_pending, reserve_server

SNAPSHOT_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9_-]{1,39}$")
# Proxmox reserves these (the pseudo-snapshot "current", pending changes, vzdump's own).
RESERVED_SNAPSHOT_NAMES = {"current", "pending", "vzdump"}
BEFORE_UPDATE_PREFIX = "before_update_"
BEFORE_UPDATE_KEEP = 2
USABLE = (Server.Status.RUNNING, Server.Status.STOPPED)


def _usable(server):
    ensure_active(server.tenant)
    if server.status not in USABLE:
        raise ValidationError(_("This server is not running or stopped right now; try again later."))


# --- snapshots ---------------------------------------------------------------------------------
def validate_snapshot_name(name):
    if name.lower() in RESERVED_SNAPSHOT_NAMES:
        raise ValidationError({"name": _("'%(name)s' is reserved by Proxmox; choose another name.") % {"name": name}})
    if not SNAPSHOT_NAME.match(name):
        raise ValidationError(
            {"name": _("2 to 40 characters: a letter first, then letters, digits, '-' or '_'.")}
        )


def validate_note(value, field, max_length=200):
    """Free text that goes to Proxmox and the database: bounded, and no control characters."""
    if len(value) > max_length:
        raise ValidationError({field: _("At most %(n)s characters.") % {"n": max_length}})
    if any(ord(c) < 32 and c not in "\t" for c in value):
        raise ValidationError({field: _("Use one line of plain text.")})
    return value


def snapshot_create(
    *, server: Server, name: str, description: str = "", include_ram: bool = False,
    user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
):
    validate_snapshot_name(name)
    validate_note(description, "description")
    with transaction.atomic():
        server = lock_server(server)
        require_duty(tenant=server.tenant, action="snapshot_create", user=user)
        return _take_snapshot(server, name=name, description=description, include_ram=include_ram, user=user, request=request)


def _take_snapshot(server, *, name, description, include_ram, user, request, freeing=0):
    """Inside the caller's transaction, with the server locked; `freeing` snapshots are being deleted first."""
    _usable(server)
    if not server.cluster.snapshot_capable:
        raise ValidationError(_("The storage of this server cannot take snapshots; use a backup instead."))
    if server.snapshots.filter(name__iexact=name).exists():
        raise ValidationError({"name": _("A snapshot called %(name)s exists already.") % {"name": name}})
    limit = server.snapshot_limit
    if server.snapshots.count() - freeing >= limit:
        raise ValidationError(_("This server may keep %(limit)s snapshots; delete one first.") % {"limit": limit})
    include_ram = bool(include_ram) and server.kind == Server.Kind.QEMU and server.status == Server.Status.RUNNING
    Snapshot.objects.create(server=server, name=name, description=description, include_ram=include_ram)
    op = engine.operation_create(
        server=server, kind=Operation.Kind.SNAPSHOT, user=user,
        params={"name": name, "description": description, "include_ram": include_ram},
    )
    audit_record(action="snapshot.create", tenant=server.tenant, request=request, actor=user, obj=server, details={"name": name})
    return op


def snapshot_before_update(
    *, server: Server, user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
):
    """The safety snapshot staff and customers take before maintenance; rollback is one click.

    Only the newest BEFORE_UPDATE_KEEP of them stay: each one holds every block changed since,
    so old ones would eat storage and the tenant's snapshot slots unnoticed.
    """
    with transaction.atomic():
        server = lock_server(server)
        require_duty(tenant=server.tenant, action="snapshot_before_update", user=user)
        _usable(server)
        name = free_snapshot_name(server, f"{BEFORE_UPDATE_PREFIX}{timezone.localtime():%Y%m%d_%H%M%S}")
        deleting = set(
            Operation.objects.filter(server=server, kind=Operation.Kind.SNAPSHOT_DELETE, state__in=Operation.ACTIVE_STATES)
            .values_list("params__name", flat=True)
        )
        # One still being taken counts among the newest: a second click before the first is ready
        # must prune the old ones, not be refused for the slot the first one holds.
        newest_first = [
            snap for snap in server.snapshots.filter(name__startswith=BEFORE_UPDATE_PREFIX).order_by("-created_at")
            if snap.name not in deleting
        ]
        older = [snap for snap in newest_first[BEFORE_UPDATE_KEEP - 1:] if snap.ready]
        for snap in older:
            engine.operation_create(server=server, kind=Operation.Kind.SNAPSHOT_DELETE, params={"name": snap.name}, user=user)
            audit_record(action="snapshot.delete", tenant=server.tenant, request=request, actor=user, obj=server,
                         details={"name": snap.name, "pruned": True})
        return _take_snapshot(server, name=name, description=_("Before update"), include_ram=False, user=user,
                              request=request, freeing=len(older) + len(deleting))


def free_snapshot_name(server, name):
    """`name`, or `name_2`, `name_3`... when a snapshot of that name exists (two within a second)."""
    taken = set(server.snapshots.filter(name__startswith=name).values_list("name", flat=True))
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    return candidate


def _snapshot(server, name):
    snap = server.snapshots.filter(name=name, ready=True).first()
    if snap is None:
        raise ValidationError({"name": _("There is no snapshot called %(name)s.") % {"name": name}})
    return snap


def snapshot_rollback(
    *, server: Server, name: str, start: bool = False, user: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
) -> Operation:
    with transaction.atomic():
        server = lock_server(server)
        require_duty(tenant=server.tenant, action="snapshot_rollback", user=user)
        _usable(server)
        _snapshot(server, name)
        op = engine.operation_create(server=server, kind=Operation.Kind.ROLLBACK, params={"name": name, "start": bool(start)}, user=user)
        audit_record(action="snapshot.rollback", tenant=server.tenant, request=request, actor=user, obj=server, details={"name": name})
    return op


def snapshot_delete(
    *, server: Server, name: str, user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
) -> Operation:
    with transaction.atomic():
        server = lock_server(server)
        require_duty(tenant=server.tenant, action="snapshot_delete", user=user)
        _usable(server)
        _snapshot(server, name)
        op = engine.operation_create(server=server, kind=Operation.Kind.SNAPSHOT_DELETE, params={"name": name}, user=user)
        audit_record(action="snapshot.delete", tenant=server.tenant, request=request, actor=user, obj=server, details={"name": name})
    return op


# --- backups -------------------------------------------------------------------------------------
BACKUP_MODES = ("snapshot", "suspend", "stop")


def backup_create(
    *, server: Server, mode: str = "snapshot", notes: str = "", protected: bool = False,
    policy: BackupPolicy | None = None, retry: bool = False, user: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
) -> Operation:
    if mode not in BACKUP_MODES:
        raise ValidationError({"mode": _("Choose snapshot, suspend or stop.")})
    validate_note(notes, "notes")
    with transaction.atomic():
        server = lock_server(server)
        _usable(server)
        limit = server.backup_limit
        if policy is None and server.backups.kept().count() >= limit:
            raise ValidationError(_("This server may keep %(limit)s backups; delete one first.") % {"limit": limit})
        op = engine.operation_create(
            server=server, kind=Operation.Kind.BACKUP, user=user,
            params={"mode": mode, "notes": notes, "protected": bool(protected), "scheduled": policy is not None,
                    "retry": retry},
        )
        if policy is None:
            audit_record(action="backup.create", tenant=server.tenant, request=request, actor=user, obj=server)
    return op


def backup_restore(
    *, backup: Backup, target="same", hostname: str = "", confirm: bool = False,
    user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
) -> Operation:
    """Restore over the same server (confirmed, stopped first) or into a new server placed like a create."""
    if backup.deleted_at:
        raise ValidationError(_("This backup no longer exists."))
    if target == "same":
        server = backup.server
        if server is None or server.status in (Server.Status.DELETED, Server.Status.DELETING, Server.Status.FAILED):
            raise ValidationError({"target": _("The original server is gone; restore into a new server.")})
        require_duty(tenant=backup.tenant, action="backup_restore_same", user=user)
        if not confirm:
            raise ValidationError({"confirm": _("Confirm that the server's current data is replaced by the backup.")})
        with transaction.atomic():
            server = lock_server(server)
            _usable(server)
            no_pending(server)
            readers = backup_readers(backup)
            if readers and server.node and server.node.name not in readers:
                raise ValidationError({"target": _(
                    "The backup lies on node %(node)s's own storage, but the server runs on %(current)s now; "
                    "restore it into a new server instead.") % {"node": backup.node, "current": server.node.name}})
            was_running = server.status == Server.Status.RUNNING
            server.transition(Server.Status.BUILDING, gettext_noop("Restoring backup"))
            op = engine.operation_create(
                server=server, kind=Operation.Kind.RESTORE, user=user,
                backup=backup, params={"new": False, "was_running": was_running},
            )
            audit_record(action="backup.restore", tenant=backup.tenant, request=request, actor=user, obj=server, details={"backup": str(backup)})
        return op
    if target != "new":
        raise ValidationError({"target": _("Choose the same or a new server.")})
    readers = backup_readers(backup)
    with transaction.atomic():
        server = reserve_server(
            tenant=backup.tenant, cluster=backup.cluster, kind=backup.kind, hostname=hostname,
            cores=backup.cores, memory_mb=backup.memory_mb, disk_gb=backup.disk_gb, created_by=user,
            only=readers, unplaceable=_("The backup lies on node %(node)s's own storage and can only be restored "
                                        "there, but node %(node)s has no room for it or takes no new servers right now.")
            % {"node": backup.node} if readers else None,
            default_user=backup.server.default_user if backup.server else "",
            snapshot_slots=backup.server.snapshot_slots if backup.server else None,
            backup_slots=backup.server.backup_slots if backup.server else None,
        )
        op = engine.operation_create(server=server, kind=Operation.Kind.RESTORE, user=user, backup=backup, params={"new": True})
        source_policy = BackupPolicy.objects.filter(server=backup.server_id).first() if backup.server_id else None
        if source_policy is not None:
            # The restored server takes over from the one it was backed up from: so does its schedule.
            backup_policy_set(
                server=server, enabled=source_policy.enabled, frequency=source_policy.frequency,
                weekday=source_policy.weekday, time=source_policy.time, keep_last=source_policy.keep_last,
                keep_daily=source_policy.keep_daily, keep_weekly=source_policy.keep_weekly,
                keep_monthly=source_policy.keep_monthly, managed_by_jiku=source_policy.managed_by_jiku, user=None,
            )
        audit_record(action="backup.restore", tenant=backup.tenant, request=request, actor=user, obj=server, details={"backup": str(backup), "new": True})
    return op


def backup_readers(backup):
    """The nodes that can read the backup: None for a shared storage (all), else only its own node."""
    if backup.storage in backup.cluster.shared_storages:
        return None
    return [backup.node]


def _backup_operation(backup, kind, params, user):
    """Backup housekeeping runs as an operation of its server, or on its own once the server is gone."""
    server = backup.server if backup.server and backup.server.status != Server.Status.DELETED else None
    return engine.operation_create(kind=kind, server=server, tenant=backup.tenant, cluster=backup.cluster, backup=backup,
                                   user=user, params=params)


def backup_delete(
    *, backup: Backup, user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
) -> Operation:
    with transaction.atomic():
        backup = Backup.objects.select_for_update().get(pk=backup.pk)
        if backup.deleted_at:
            raise ValidationError(_("This backup no longer exists."))
        require_duty(tenant=backup.tenant, action="backup_delete", user=user)
        if backup.protected:
            raise ValidationError(_("This backup is protected; remove the protection first."))
        op = _backup_operation(backup, Operation.Kind.BACKUP_DELETE, {}, user)
        audit_record(action="backup.delete", tenant=backup.tenant, request=request, actor=user, obj=backup)
    return op


def backup_protect(
    *, backup: Backup, protected: bool, user: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
) -> Operation:
    with transaction.atomic():
        backup = Backup.objects.select_for_update().get(pk=backup.pk)
        require_duty(tenant=backup.tenant, action="backup_protect", user=user)
        if backup.deleted_at:
            raise ValidationError(_("This backup no longer exists."))
        op = _backup_operation(backup, Operation.Kind.BACKUP_PROTECT, {"protected": bool(protected)}, user)
        audit_record(action="backup.protect" if protected else "backup.unprotect", tenant=backup.tenant, request=request, actor=user, obj=backup)
    return op


def backups_expire():
    """Backups of deleted servers are kept for the retention period, then removed."""
    ops = []
    for backup in Backup.objects.kept().filter(expires_at__lt=timezone.now(), protected=False):
        with transaction.atomic():
            ops.append(_backup_operation(backup, Operation.Kind.BACKUP_DELETE, {"expired": True}, None))
    return ops


def backup_policy_set(
    *, server: Server, enabled: bool = True, frequency: str = "daily", weekday: int = 0,
    time: datetime.time | None = None, keep_last: int = 3, keep_daily: int = 7, keep_weekly: int = 4,
    keep_monthly: int = 0, managed_by_jiku: bool = False, user: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
) -> BackupPolicy:
    """Store the schedule in django-celery-beat (staff can edit it in the admin), in the tenant's time zone."""
    if frequency not in BackupPolicy.Frequency.values:
        raise ValidationError({"frequency": _("Choose daily or weekly.")})
    if not isinstance(weekday, int) or not 0 <= weekday <= 6:
        raise ValidationError({"weekday": _("Choose a weekday.")})
    keep = {"keep_last": keep_last, "keep_daily": keep_daily, "keep_weekly": keep_weekly, "keep_monthly": keep_monthly}
    for field, value in keep.items():
        if not isinstance(value, int) or not 0 <= value <= BackupPolicy.KEEP_MAX:
            raise ValidationError({field: _("Enter a number from 0 to %(max)s.") % {"max": BackupPolicy.KEEP_MAX}})
    if max(keep.values()) == 0:
        raise ValidationError({"keep_last": _("Keep at least one backup.")})
    if time is not None and not isinstance(time, datetime.time):
        raise ValidationError({"time": _("Enter a time of day, e.g. 02:00.")})
    with transaction.atomic():
        server = lock_server(server)
        require_duty(tenant=server.tenant, action="backup_policy_set", user=user)
        policy, _created = BackupPolicy.objects.get_or_create(server=server)
        policy.enabled, policy.frequency, policy.weekday = enabled, frequency, weekday
        policy.time = time or policy.time
        policy.keep_last, policy.keep_daily, policy.keep_weekly, policy.keep_monthly = keep_last, keep_daily, keep_weekly, keep_monthly
        policy.managed_by_jiku = managed_by_jiku
        hour, minute = (policy.time.hour, policy.time.minute) if isinstance(policy.time, datetime.time) else map(int, str(policy.time).split(":")[:2])
        crontab, _c = CrontabSchedule.objects.get_or_create(
            minute=str(minute), hour=str(hour), day_of_week="*" if frequency == "daily" else str((weekday + 1) % 7),
            day_of_month="*", month_of_year="*", timezone=server.tenant.time_zone,
        )
        task = policy.periodic_task or PeriodicTask(name=f"backup policy {server.public_id}")
        task.crontab, task.interval = crontab, None
        task.task = "provisioning.tasks.run_backup_policy"
        task.args = json.dumps([server.pk])
        task.enabled = enabled
        task.save()
        policy.periodic_task = task
        policy.save()
        audit_record(action="backup.policy", tenant=server.tenant, request=request, actor=user, obj=server,
                     details={"enabled": enabled, "frequency": frequency, "time": str(policy.time)})
    return policy


def backup_schedules_follow_zones() -> int:
    """A tenant that chose another time zone (tenant settings): each of its backup schedules keeps its
    time of day, now in the new zone. Run by the sweep (tenants may not call provisioning); the
    count of schedules moved."""
    stale = (BackupPolicy.objects.filter(periodic_task__crontab__isnull=False)
             .exclude(periodic_task__crontab__timezone=F("server__tenant__time_zone"))
             .select_related("periodic_task__crontab", "server__tenant"))
    moved = 0
    for policy in stale:
        task, old = policy.periodic_task, policy.periodic_task.crontab
        task.crontab, _c = CrontabSchedule.objects.get_or_create(
            minute=old.minute, hour=old.hour, day_of_week=old.day_of_week, day_of_month=old.day_of_month,
            month_of_year=old.month_of_year, timezone=policy.server.tenant.time_zone)
        task.save()  # save(), not update(): beat learns of changed schedules from it
        moved += 1
    return moved


# --- high availability, moves, staging -------------------------------------------------------
def ha_set(
    *, server: Server, enabled: bool, user: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
) -> Operation:
    with transaction.atomic():
        server = lock_server(server)
        _usable(server)
        if server.ha_enabled == bool(enabled):
            raise ValidationError(_("High availability is already switched that way."))
        op = engine.operation_create(server=server, kind=Operation.Kind.HA, params={"enabled": bool(enabled)}, user=user)
        audit_record(action="server.ha_on" if enabled else "server.ha_off", tenant=server.tenant, request=request, actor=user, obj=server)
    return op


def server_migrate(
    *, server: Server, target: Node, drain: Node | None = None, user: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
) -> Operation:
    """Staff: move a server to another node of its cluster."""
    with transaction.atomic():
        server = lock_server(server)
        if target.cluster_id != server.cluster_id or target.pk == server.node_id:
            raise ValidationError({"target": _("Choose another node of the same cluster.")})
        if target.status != Node.Status.ONLINE:
            raise ValidationError({"target": _("The target node is not online.")})
        _usable(server)
        op = engine.operation_create(
            server=server, kind=Operation.Kind.MIGRATE, user=user, target_node=target, drain_node=drain
        )
        audit_record(action="server.migrate", tenant=server.tenant, request=request, actor=user, obj=server, details={"target": target.name})
    return op


def node_drain(*, node: Node, user: AbstractBaseUser | None = None, request: HttpRequest | None = None):
    """Staff: no new servers on the node, and its servers move away one after another.

    Draining again after a stop goes on where it stopped. Returns the first move, or None when
    nothing can move (the node's `drain_error` then says why).
    """
    with transaction.atomic():
        node = Node.objects.select_for_update().get(pk=node.pk)
        node.draining, node.drain_error = True, ""
        node.save(update_fields=["draining", "drain_error"])
        audit_record(action="node.drain", request=request, actor=user, obj=node)
    return drain_next(node=node, user=user)


def drain_next(*, node: Node, user: AbstractBaseUser | None = None, after: Operation | None = None):
    """Start moving the next server off a draining node; returns the operation or None.

    It never raises: whatever stops the drain (a failed move, no room elsewhere) is written to
    the node for staff, and only there; the moves themselves report only their own outcome.
    """
    node.refresh_from_db()
    if not node.draining:
        return None
    if after is not None and after.state == Operation.State.FAILED:
        return _drain_stops(node, _("Moving %(server)s failed (%(error)s); the drain is paused. Fix the cause and drain again.")
                            % {"server": after.server.hostname if after.server else "?", "error": after.error})
    server = Server.objects.live().filter(node=node, status__in=USABLE).select_related("tenant").order_by("pk").first()
    if server is None:
        stuck = list(Server.objects.live().filter(node=node).values_list("hostname", flat=True))
        if stuck:
            return _drain_stops(node, _("These servers cannot move in their current state: %(names)s.") % {"names": ", ".join(stuck)})
        return _drain_stops(node, "")
    try:
        target = choose_node(
            cluster=node.cluster, tenant=server.tenant, cores=server.cores, memory_mb=server.memory_mb,
            disk_gb=server.disk_gb, exclude={node.pk},
        )
        return server_migrate(server=server, target=target, drain=node, user=user)
    except (PlacementError, ValidationError) as exc:
        reason = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        return _drain_stops(node, _("%(server)s (%(tenant)s) cannot move: %(reason)s")
                            % {"server": server.hostname, "tenant": server.tenant.name, "reason": reason})


def _drain_stops(node, reason):
    Node.objects.filter(pk=node.pk).update(drain_error=reason)
    node.drain_error = reason
    return None


def staging_create(
    *, server: Server, user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
) -> Operation:
    """A full copy for testing, with its own name and address, counted against the quota."""
    hostname = f"{server.hostname}-staging"[:63].rstrip("-")
    with transaction.atomic():
        source = lock_server(server)
        _usable(source)
        if source.staging_of_id:
            raise ValidationError(_("This is a staging copy already."))
        copy = reserve_server(
            tenant=source.tenant, cluster=source.cluster, kind=source.kind, hostname=hostname, cores=source.cores,
            memory_mb=source.memory_mb, disk_gb=source.disk_gb, image=source.image, default_user=source.default_user,
            ssh_keys=source.ssh_keys, staging_of=source, created_by=user,
            snapshot_slots=source.snapshot_slots, backup_slots=source.backup_slots,
            # Proxmox clones guests on local storage only onto their own node.
            node=source.node,
        )
        op = engine.operation_create(server=copy, kind=Operation.Kind.STAGING, peer=source, user=user)
        audit_record(action="staging.create", tenant=source.tenant, request=request, actor=user, obj=copy, details={"source": source.hostname})
    return op


def staging_promote(
    *, staging: Server, user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
) -> Operation:
    """The staging copy takes over name and address; the old production keeps a safety snapshot."""
    with transaction.atomic():
        staging = lock_server(staging)
        production = staging.staging_of
        if production is None:
            raise ValidationError(_("Only a staging copy can be promoted."))
        production = lock_server(production)
        require_duty(tenant=production.tenant, action="staging_promote", user=user)
        _usable(staging)
        _usable(production)
        no_pending(staging)
        no_pending(production)
        name = free_snapshot_name(production, f"before_promote_{timezone.localtime():%Y%m%d_%H%M}")
        Snapshot.objects.create(server=production, name=name, description=_("Before promoting the staging copy"))
        op = engine.operation_create(
            server=production, kind=Operation.Kind.PROMOTE, user=user,
            peer=staging, params={"snapshot": name, "snapshots": production.cluster.snapshot_capable},
        )
        audit_record(action="staging.promote", tenant=staging.tenant, request=request, actor=user, obj=staging)
    return op

