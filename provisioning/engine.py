"""Runs operations step by step against Proxmox, durably.

The Operation row is the source of truth, not the broker: a worker claims the row with a
conditional UPDATE and holds a lease; every Proxmox task's UPID is saved before waiting on it,
so whoever resumes the row polls that UPID instead of doing the work twice. Steps are written so
that running one again after a crash is harmless.
"""

import logging
import random
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import OperationalError, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from . import steps as step_library
from .models import Cluster, Node, Operation, Server
from .proxmox import PVE, ProxmoxError

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 40  # with backoff capped at 60 s: about half an hour of Proxmox being away
INLINE_WAIT_SECONDS = 20  # longer tasks are polled again later instead of pinning the worker
PARKED_POLL_SECONDS = 3


def lease_seconds():
    return settings.PROVISIONING_LEASE_SECONDS


@dataclass
class Yield:
    """A step asks to be run again later (node busy, task still running)."""

    delay: float


class Context:
    def __init__(self, op):
        self.op = op
        self.server = op.server
        # Backup housekeeping may outlive its server; then the operation names the cluster.
        cluster = op.server.cluster if op.server else Cluster.objects.get(pk=op.params["cluster"])
        self.pve = PVE(cluster)

    @property
    def params(self):
        return self.op.params


def enqueue(op_id, countdown=None):
    from .tasks import run_operation

    if countdown:
        run_operation.apply_async((op_id,), countdown=countdown)
    else:
        run_operation.delay(op_id)


def enqueue_on_commit(op_id):
    transaction.on_commit(lambda: enqueue(op_id))


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
    return Operation.objects.select_related("server", "server__cluster", "server__node", "server__image").get(pk=op_id)


def _save(op, *fields):
    op.lease_until = timezone.now() + timezone.timedelta(seconds=lease_seconds())
    op.save(update_fields=[*fields, "lease_until", "updated_at"])


def run(op_id):
    op = claim(op_id)
    if op is None:
        return
    steps = step_library.steps_for(op)
    op.step_count = len(steps)
    node_id = op.server.node_id if op.server else None
    try:
        ctx = Context(op)
        deadline = time.monotonic() + INLINE_WAIT_SECONDS
        while op.step < len(steps):
            outcome = _advance(ctx, steps, deadline, node_id)
            if isinstance(outcome, Yield):
                _park(op, outcome.delay)
                return
        _finish(op, steps)
    except ProxmoxError as exc:
        _handle_error(op, steps, exc)
    except OperationalError as exc:
        # The database hiccuped (locked SQLite, PostgreSQL failover): try again, fail nothing.
        log.warning("operation %s: database error %s, retrying", op.pk, exc)
        _park(op, 2 + random.random())
    except Exception as exc:  # noqa: BLE001 - a bug must fail the row, not leave it running
        log.exception("operation %s crashed", op.pk)
        _fail(op, steps, f"{exc.__class__.__name__}: {exc}")
    finally:
        if op.state in (Operation.State.SUCCEEDED, Operation.State.FAILED):
            _kick_next(op)
            _follow_up(op)


def _follow_up(op):
    """Work that comes after an operation is scheduled here, never from inside its steps, so a
    problem with the next piece of work can never become this operation's outcome."""
    from .tasks import continue_drain

    if op.kind == Operation.Kind.MIGRATE and op.params.get("drain"):
        continue_drain.delay(op.params["drain"], op.pk)


def _advance(ctx, steps, deadline, node_id):
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
    if step.starts_task and not _take_slot(op, node_id):
        return Yield(2 + random.random())
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


def _take_slot(op, node_id):
    """Limit concurrent Proxmox tasks per node so bursts do not end in lock timeouts."""
    if node_id is None:
        return True
    with transaction.atomic():
        node = Node.objects.select_for_update().get(pk=node_id)
        busy = (
            Operation.objects.filter(params__slot_node=node.pk, state__in=Operation.ACTIVE_STATES)
            .exclude(pk=op.pk)
            .count()
        )
        if busy >= settings.PROVISIONING_MAX_TASKS_PER_NODE:
            return False
        op.params["slot_node"] = node.pk
        _save(op, "params")
    return True


def _release_slot(op):
    if op.params.pop("slot_node", None) is not None:
        _save(op, "params")


def _park(op, delay):
    op.state = Operation.State.WAITING
    # A little early, so the delayed message never arrives before the row is claimable.
    op.not_before = timezone.now() + timezone.timedelta(seconds=delay * 0.8)
    op.lease_until = None
    op.save(update_fields=["state", "not_before", "lease_until", "updated_at"])
    enqueue(op.pk, countdown=delay)


def _handle_error(op, steps, exc):
    op.attempts += 1
    if exc.retryable and op.attempts < MAX_ATTEMPTS:
        delay = min(60, 2 ** min(op.attempts, 6)) * (0.5 + random.random())
        op.last_error = exc.message
        op.save(update_fields=["attempts", "last_error"])
        log.info("operation %s: transient error (%s), retry in %.1fs", op.pk, exc.message, delay)
        _release_slot(op)
        _park(op, delay)
        return
    op.save(update_fields=["attempts"])
    _fail(op, steps, exc.message)


def _finish(op, steps):
    op.state = Operation.State.SUCCEEDED
    op.finished_at = timezone.now()
    op.lease_until = None
    op.step_name = ""
    op.save(update_fields=["state", "finished_at", "lease_until", "step_name", "updated_at"])


def _fail(op, steps, message):
    op.state = Operation.State.FAILED
    op.error = message
    op.finished_at = timezone.now()
    op.lease_until = None
    op.params.pop("slot_node", None)
    op.params.pop("password", None)
    # One transaction: nobody sees the operation failed while its reservations are still held.
    with transaction.atomic():
        op.save(update_fields=["state", "error", "finished_at", "lease_until", "params", "updated_at"])
        try:
            with transaction.atomic():
                step_library.on_failure(op)
        except Exception:  # noqa: BLE001 - compensation is best effort; the failure is recorded anyway
            log.exception("compensation for operation %s failed", op.pk)


def _kick_next(op):
    nxt = (
        Operation.objects.filter(server=op.server_id, state=Operation.State.QUEUED)
        .order_by("id")
        .values_list("pk", flat=True)
        .first()
    )
    if nxt:
        enqueue(nxt)


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
    return ids


def server_is_busy(server: Server):
    return Operation.objects.filter(server=server, state__in=Operation.ACTIVE_STATES).exists()
