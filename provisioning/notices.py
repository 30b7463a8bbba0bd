"""What provisioning tells people: an operation's outcome and what reconcile saw, as notification
events recorded in the same transaction as the change (notifications sits below every app,
DESIGN.md 2, so provisioning calls it directly; no signals).

Recording an event must never become an operation's outcome: a fault here is logged and the
operation's own result stands.
"""

import logging

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation

from notifications.actions import event_record

from .models import Operation
from .selectors import stalled_operations

log = logging.getLogger(__name__)


def msgid(text):
    """A lazy translation as its untranslated msgid: the mail is translated for each reader."""
    with translation.override(None):
        return str(text)


def server_payload(server, **extra):
    return {"server": server.hostname, "path": reverse("provisioning:server_detail", args=[server.public_id]),
            **extra}


def _safely(record, *args):
    try:
        with transaction.atomic():
            record(*args)
    except Exception:  # noqa: BLE001 - see the module's docstring
        log.exception("notification for %s not recorded", args)


def operation_ended(op):
    """Call inside the transaction that marks the operation succeeded or failed."""
    _safely(_record_outcome, op)


def _record_outcome(op):
    failed = op.state == Operation.State.FAILED
    server = op.server
    if failed:
        event_record(tenant=op.tenant, kind="staff_operation_failed", subject_object=op, payload={
            "operation": msgid(op.kind_label), "server": server.hostname if server else "",
            "error": op.error[:2000], "path": reverse("staff:operations"),
        })
    if server is None or op.tenant is None:
        return
    # The customer's words about a failure, never Proxmox's text (that is in the staff mail).
    reason = {"reason": msgid(op.customer_error)} if failed else {}
    if op.kind == Operation.Kind.CREATE:
        kind = "server_build_failed" if failed else "server_built"
        extra = reason or {"address": server.ipv4 or ""}
        event_record(tenant=op.tenant, kind=kind, subject_object=server, payload=server_payload(server, **extra))
    elif op.kind == Operation.Kind.RESTORE:
        backup = str(op.backup) if op.backup else ""
        event_record(tenant=op.tenant, kind="restore_failed" if failed else "restore_done", subject_object=server,
                     payload=server_payload(server, backup=backup, **reason))
    elif op.kind == Operation.Kind.BACKUP and failed and op.params.get("scheduled") and op.params.get("retry"):
        # Only the retry's failure: the first one is tried again a little later (operations/backups.py).
        event_record(tenant=op.tenant, kind="backup_failed", subject_object=server,
                     payload=server_payload(server, **reason))
    elif op.kind == Operation.Kind.BACKUP and not failed and op.params.get("scheduled") and _after_told_failure(op):
        event_record(tenant=op.tenant, kind="backup_recovered", subject_object=server, payload=server_payload(server))


def _after_told_failure(op):
    """Whether the server's last scheduled backup run before this one failed on its retry too (the
    run the managers were mailed about): then they hear that backups work again. A first attempt
    that failed is passed over: it was tried again and nobody was told of it."""
    earlier = (Operation.objects.filter(server=op.server_id, kind=Operation.Kind.BACKUP, params__scheduled=True,
                                        state__in=[Operation.State.SUCCEEDED, Operation.State.FAILED])
               .exclude(pk=op.pk).order_by("-pk")[:20])
    for before in earlier:
        if before.state == Operation.State.FAILED and not before.params.get("retry"):
            continue
        return before.state == Operation.State.FAILED
    return False


def servers_changed(changes):
    """Reconcile's news per server: [(server, before, after)] of (node name, status, reason msgid, params)."""
    _safely(_record_changes, changes)


def _record_changes(changes):
    for server, (old_node, old_status, _old_reason, old_params), (new_node, status, reason, params) in changes:
        if status == "unavailable" and old_status != "unavailable" and params.get("node"):
            # Only a node failure; a server Proxmox lost is drift for staff, not a customer mail.
            event_record(tenant=server.tenant, kind="server_unavailable", subject_object=server,
                         payload=server_payload(server, reason=reason, reason_params=params))
        elif server.ha_enabled and old_node and new_node and old_node != new_node:
            # Says where it runs now, so no separate "available again" mail after an HA recovery.
            event_record(tenant=server.tenant, kind="server_ha_moved", subject_object=server,
                         payload=server_payload(server, from_node=old_node, to_node=new_node))
        elif old_status == "unavailable" and old_params.get("node") and status in ("running", "stopped"):
            event_record(tenant=server.tenant, kind="server_available", subject_object=server,
                         payload=server_payload(server))


# --- for staff -----------------------------------------------------------------------------------
def operations_stalled():
    """The sweep's news: each operation that has been stuck longer than the stall limit is told
    to staff once (the event's key), however many sweeps still find it stuck."""
    _safely(_record_stalled)


def _record_stalled():
    # Active for longer than the limit, not one transient error a second ago.
    limit = timezone.now() - timezone.timedelta(seconds=settings.PROVISIONING_STALL_SECONDS)
    for op in stalled_operations().filter(created_at__lt=limit).select_related("server", "tenant").order_by("pk"):
        event_record(tenant=op.tenant, kind="staff_operation_stalled", subject_object=op,
                     key=f"operation-stalled:{op.pk}", payload={
                         "operation": msgid(op.kind_label), "server": op.server.hostname if op.server else "",
                         "state": op.state, "started_at": op.created_at.isoformat(), "error": op.last_error[:2000],
                         "path": reverse("staff:operations")})


def nodes_offline(cluster, nodes):
    _safely(_record_nodes_offline, cluster, nodes)


def _record_nodes_offline(cluster, nodes):
    for node in nodes:
        event_record(tenant=None, kind="staff_node_offline", subject_object=node, payload={
            "node": node.name, "cluster": cluster.name, "path": reverse("staff:node", args=[node.pk])})


def drift_found(cluster, drifts):
    """One mail per reconcile that found any, not one per guest."""
    _safely(_record_drift, cluster, drifts)


def _record_drift(cluster, drifts):
    event_record(tenant=None, kind="staff_drift_found", payload={
        "cluster": cluster.name, "count": len(drifts), "path": reverse("staff:drift_list"),
        "vmids": sorted(d.vmid for d in drifts)[:50]})


def servers_stopped_unexpectedly(servers):
    _safely(_record_stopped, servers)


def _record_stopped(servers):
    for server in servers:
        event_record(tenant=server.tenant, kind="staff_server_stopped", subject_object=server, payload={
            "server": server.hostname, "reason": server.status_reason, "reason_params": server.status_reason_params,
            "path": reverse("admin:provisioning_server_change", args=[server.pk])})
