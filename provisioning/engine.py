"""Runs operations step by step against Proxmox, durably; the only module that enqueues work.

The Operation row is the source of truth, not the broker: a worker claims the row with a
conditional UPDATE and holds a lease; every Proxmox task's UPID is saved before waiting on it,
so whoever resumes the row polls that UPID instead of doing the work twice. Steps are written so
that running one again after a crash is harmless. What a kind of operation consists of (its
recipe) lives in provisioning/operations/.
"""

import logging
import random
import time

from celery import current_app
from django.conf import settings
from django.db import OperationalError, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from . import notices
from .models import Node, Operation, Server
from .operations import Context, Yield, recipe_for
from .proxmox import ProxmoxError

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 40  # with backoff capped at 60 s: about half an hour of Proxmox being away
INLINE_WAIT_SECONDS = 20  # longer tasks are polled again later instead of pinning the worker
PARKED_POLL_SECONDS = 3
# A step waiting for a task slot on its node is woken when one frees; this is only the fallback.
SLOT_RETRY_SECONDS = 5
RUN_TASK = "provisioning.tasks.run_operation"


def lease_seconds():
    return settings.PROVISIONING_LEASE_SECONDS


# --- creating and enqueuing ------------------------------------------------------------------
def operation_create(
    *, kind: str, server: Server | None = None, tenant=None, user=None, params: dict | None = None, cluster=None,
    image=None, backup=None, target_node: Node | None = None, drain_node: Node | None = None,
    peer: Server | None = None,
) -> Operation:
    """The one way an operation comes to be: its row, what it acts on, and its run enqueued on commit."""
    op = Operation.objects.create(
        kind=kind, server=server, tenant=tenant if tenant is not None else (server.tenant if server else None),
        created_by=user, params=params or {}, cluster=cluster, image=image, backup=backup, target_node=target_node,
        drain_node=drain_node, peer=peer,
    )
    enqueue_on_commit(op.pk)
    return op


def enqueue(op_id, countdown=None):
    # By name: tasks.py imports this module, never the other way round.
    current_app.send_task(RUN_TASK, args=(op_id,), countdown=countdown or None)


def enqueue_on_commit(op_id):
    transaction.on_commit(lambda: enqueue(op_id))


# --- running ------------------------------------------------------------------------------------
def claim(op_id):
    """queued/waiting -> running, only if no earlier operation of the same server is unfinished."""
    now = timezone.now()
    earlier = Operation.objects.filter(
        server=OuterRef("server"), state__in=Operation.ACTIVE_STATES, id__lt=OuterRef("id")
    )
    claimed = (
        Operation.objects.filter(pk=op_id, state__in=[Operation.State.QUEUED, Operation.State.WAITING])
        .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
        .filter(~Exists(earlier))
        .update(
            state=Operation.State.RUNNING,
            lease_until=now + timezone.timedelta(seconds=lease_seconds()),
            started_at=Coalesce("started_at", now),
            updated_at=now,
        )
    )
    if not claimed:
        return None
    return Operation.objects.select_related(
        "server", "server__cluster", "server__node", "server__image", "server__tenant", "cluster", "image", "backup",
        "target_node",
    ).get(pk=op_id)


def _save(op, *fields):
    op.lease_until = timezone.now() + timezone.timedelta(seconds=lease_seconds())
    op.save(update_fields=[*fields, "lease_until", "updated_at"])


def run(op_id):
    op = claim(op_id)
    if op is None:
        return
    recipe = recipe_for(op.kind)
    steps = recipe.steps(op)
    op.step_count = len(steps)
    try:
        ctx = Context(op)
        deadline = time.monotonic() + INLINE_WAIT_SECONDS
        while op.step < len(steps):
            outcome = _advance(ctx, steps, deadline)
            if isinstance(outcome, Yield):
                _park(op, outcome.delay)
                return
        _finish(op)
    except ProxmoxError as exc:
        _handle_error(op, recipe, exc)
    except OperationalError as exc:
        # The database hiccuped (locked SQLite, PostgreSQL failover): try again, fail nothing.
        log.warning("operation %s: database error %s, retrying", op.pk, exc)
        _release_slot(op)
        _park(op, settings.PROVISIONING_RETRY_SECONDS * (1 + random.random()))
    except Exception as exc:  # noqa: BLE001 - a bug must fail the row, not leave it running
        log.exception("operation %s crashed", op.pk)
        _fail(op, recipe, f"{exc.__class__.__name__}: {exc}")
    finally:
        if op.state in (Operation.State.SUCCEEDED, Operation.State.FAILED):
            _kick_next(op)
            _follow_up(op, recipe)


def _advance(ctx, steps, deadline):
    op = ctx.op
    if op.upid:
        status = ctx.pve.task_status(op.upid_node, op.upid)
        if status.get("status") == "running":
            if time.monotonic() > deadline:
                return Yield(PARKED_POLL_SECONDS)
            time.sleep(settings.PROVISIONING_POLL_INTERVAL)
            _save(op)
            return None
        exitstatus = status.get("exitstatus", "")
        if exitstatus != "OK" and not exitstatus.startswith("WARNINGS"):
            _keep_task_log(ctx, op)
            op.upid = ""
            _release_slot(op)
            raise ProxmoxError(exitstatus, retryable=bool(_task_error_is_transient(exitstatus)))
        op.upid = ""
        op.step += 1
        _release_slot(op)
        _save(op, "upid", "upid_node", "step")
        return None

    step = steps[op.step]
    op.step_name = step.name
    _save(op, "step_name", "step_count")
    if step.starts_task and not _take_slot(op):
        return Yield(SLOT_RETRY_SECONDS * (0.8 + 0.4 * random.random()))
    result = step.run(ctx)
    if isinstance(result, Yield):
        _release_slot(op)
        return result
    if isinstance(result, str) and result.startswith("UPID:"):
        op.upid = result
        op.upid_node = result.split(":")[1]
        _save(op, "upid", "upid_node")
        return None
    op.step += 1
    _release_slot(op)
    _save(op, "step")
    return None


def _keep_task_log(ctx, op):
    """Staff pages show the end of a failed task's log; they read it from here, not from Proxmox."""
    try:
        op.params["task_log"] = ctx.pve.task_log_tail(op.upid_node, op.upid, lines=15)[-4000:]
    except ProxmoxError:
        return
    _save(op, "params")


def _task_error_is_transient(message):
    # A guest held by another task (say, a backup) frees up; the step runs again later.
    return "is locked" in message or "got timeout" in message


# --- task slots -----------------------------------------------------------------------------------
def _slot_node_id(op):
    return op.server.node_id if op.server else None


def _take_slot(op):
    """Limit concurrent Proxmox tasks per node so bursts do not end in lock timeouts."""
    node_id = _slot_node_id(op)
    if node_id is None or op.slot_node == node_id:
        return True
    with transaction.atomic():
        # No ordering: Node's default order joins the cluster, and FOR UPDATE would lock that row too.
        list(Node.objects.select_for_update().filter(pk=node_id).order_by().values_list("pk", flat=True))
        busy = (
            Operation.objects.filter(slot_node=node_id, state__in=Operation.ACTIVE_STATES).exclude(pk=op.pk).count()
        )
        if busy >= settings.PROVISIONING_MAX_TASKS_PER_NODE:
            op.params["waiting_for_slot"] = node_id
            _save(op, "params")
            return False
        op.slot_node = node_id
        op.params.pop("waiting_for_slot", None)
        _save(op, "slot_node", "params")
    return True


def _release_slot(op):
    node_id = op.slot_node
    if node_id is None:
        return
    op.slot_node = None
    _save(op, "slot_node")
    _wake_one_waiting_for(node_id)


def _wake_one_waiting_for(node_id):
    """Hand the freed slot on at once instead of letting a waiting operation sleep its retry out."""
    waiting = (
        Operation.objects.filter(state=Operation.State.WAITING, params__waiting_for_slot=node_id)
        .order_by("id")
        .values_list("pk", flat=True)
        .first()
    )
    if waiting is None:
        return
    woken = Operation.objects.filter(pk=waiting, state=Operation.State.WAITING).update(not_before=None)
    if woken:
        enqueue_on_commit(waiting)


# --- ending -----------------------------------------------------------------------------------------
def _park(op, delay):
    op.state = Operation.State.WAITING
    # A little early, so the delayed message never arrives before the row is claimable.
    op.not_before = timezone.now() + timezone.timedelta(seconds=delay * 0.8)
    op.lease_until = None
    op.save(update_fields=["state", "not_before", "lease_until", "updated_at"])
    enqueue(op.pk, countdown=delay)


def _handle_error(op, recipe, exc):
    op.attempts += 1
    if exc.retryable and op.attempts < MAX_ATTEMPTS:
        delay = min(60, settings.PROVISIONING_RETRY_SECONDS * 2 ** (min(op.attempts, 6) - 1)) * (0.5 + random.random())
        op.last_error = exc.message
        op.save(update_fields=["attempts", "last_error"])
        log.info("operation %s: transient error (%s), retry in %.1fs", op.pk, exc.message, delay)
        _release_slot(op)
        _park(op, delay)
        return
    op.save(update_fields=["attempts"])
    _fail(op, recipe, exc.message)


def _finish(op):
    op.state = Operation.State.SUCCEEDED
    op.finished_at = timezone.now()
    op.lease_until = None
    op.step_name = ""
    # One transaction: the outcome and the event telling people about it (provisioning/notices.py).
    with transaction.atomic():
        op.save(update_fields=["state", "finished_at", "lease_until", "step_name", "updated_at"])
        notices.operation_ended(op)


def _fail(op, recipe, message):
    op.state = Operation.State.FAILED
    op.error = message
    op.finished_at = timezone.now()
    op.lease_until = None
    op.params.pop("password", None)
    op.params.pop("waiting_for_slot", None)
    # One transaction: nobody sees the operation failed while its reservations are still held.
    with transaction.atomic():
        op.save(update_fields=["state", "error", "finished_at", "lease_until", "params", "updated_at"])
        _release_slot(op)
        compensate(op, recipe)
        notices.operation_ended(op)


def compensate(op, recipe=None):
    """What a failed (or withdrawn) operation leaves behind: nothing reserved, the reason where users look."""
    try:
        with transaction.atomic():
            (recipe or recipe_for(op.kind)).on_failure(op)
    except Exception:  # noqa: BLE001 - compensation is best effort; the failure is recorded anyway
        log.exception("compensation for operation %s failed", op.pk)


def _kick_next(op):
    nxt = (
        Operation.objects.filter(server=op.server_id, state=Operation.State.QUEUED)
        .order_by("id")
        .values_list("pk", flat=True)
        .first()
    )
    if nxt and op.server_id:
        enqueue(nxt)


def _follow_up(op, recipe):
    """Work that comes after an operation is scheduled here, never from inside its steps, so a
    problem with the next piece of work can never become this operation's outcome."""
    try:
        follow_ups = recipe.follow_ups(op)
    except Exception:  # noqa: BLE001 - the operation's own outcome stands whatever follows
        log.exception("follow-ups of operation %s failed", op.pk)
        return
    for item in follow_ups:
        current_app.send_task(item.task, args=item.args, countdown=item.countdown)


def sweep():
    """Re-queue what no worker is moving: expired leases (worker died), lost broker messages."""
    now = timezone.now()
    orphaned = list(
        Operation.objects.filter(state=Operation.State.RUNNING, lease_until__lt=now).values_list("pk", flat=True)
    )
    # Conditional, so a worker that renewed its lease in the meantime keeps its operation.
    Operation.objects.filter(pk__in=orphaned, state=Operation.State.RUNNING, lease_until__lt=now).update(
        state=Operation.State.WAITING, lease_until=None, not_before=None, updated_at=now
    )
    stale = now - timezone.timedelta(seconds=settings.PROVISIONING_STALL_SECONDS)
    due = Operation.objects.filter(
        state__in=[Operation.State.QUEUED, Operation.State.WAITING], updated_at__lt=stale
    ).filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
    ids = sorted(set(due.values_list("pk", flat=True)) | set(orphaned))
    for op_id in ids:
        enqueue(op_id)
    notices.operations_stalled()
    return ids


def server_is_busy(server: Server) -> bool:
    return Operation.objects.filter(server=server, state__in=Operation.ACTIVE_STATES).exists()
