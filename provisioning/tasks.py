"""Thin Celery tasks: they carry ids; the work and its state live in the engine and the actions.

The engine enqueues by task name (it never imports this module), so this module may import
everything it calls.
"""

import logging

from celery import shared_task

from . import engine, node_metrics, reconcile, server_metrics
from .actions import backup_create, backup_schedules_follow_zones, backups_expire, drain_next, ptrs_recheck
from .models import BackupPolicy, Node, Operation, Server
from .proxmox import ProxmoxError

log = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def run_operation(op_id):
    engine.run(op_id)


@shared_task(ignore_result=True)
def sweep_operations():
    engine.sweep()
    backup_schedules_follow_zones()


@shared_task(ignore_result=True)
def reconcile_clusters():
    reconcile.reconcile_all()


@shared_task(ignore_result=True)
def recheck_ptrs():
    ptrs_recheck()


@shared_task(ignore_result=True)
def run_backup_policy(server_id, retry=False):
    """Fired by django-celery-beat at the policy's time; a failed run retries once (retry=True)."""
    policy = BackupPolicy.objects.select_related("server").filter(server_id=server_id, enabled=True).first()
    if policy is None or policy.server.status not in ("running", "stopped"):
        return
    backup_create(server=policy.server, mode="snapshot", notes="scheduled", policy=policy, retry=retry)


@shared_task(ignore_result=True)
def continue_drain(node_id, after_operation_id):
    """A move of a draining node has finished: start the next one, or say why the drain stops."""
    node = Node.objects.filter(pk=node_id).first()
    if node is not None:
        drain_next(node=node, after=Operation.objects.filter(pk=after_operation_id).first())


@shared_task(ignore_result=True)
def expire_backups():
    backups_expire()


@shared_task(ignore_result=True)
def refresh_node_metrics():
    node_metrics.refresh_all()


@shared_task(ignore_result=True)
def refresh_node_graphs(node_id, timeframe):
    node = Node.objects.select_related("cluster").filter(pk=node_id, status=Node.Status.ONLINE).first()
    if node is None:
        return
    try:
        server_metrics.refresh_node(node, timeframe)
    except ProxmoxError as exc:
        log.info("graphs of %s not refreshed: %s", node, exc.message)


@shared_task(ignore_result=True)
def refresh_server_metrics(server_id, timeframe):
    server = Server.objects.select_related("cluster", "node").filter(
        pk=server_id, vmid__isnull=False, status__in=[Server.Status.RUNNING, Server.Status.STOPPED]).first()
    if server is None or server.node is None:
        return
    try:
        server_metrics.refresh(server, timeframe)
    except ProxmoxError as exc:
        # A graph a little older is no failure; the next page view asks again.
        log.info("graphs of %s not refreshed: %s", server, exc.message)
