"""Staging copies: a full clone to test on, and promote, which hands the production role over."""

import json

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from provisioning.models import BackupPolicy, Operation, PtrRecord, Server, Snapshot
from tenants.audit import audit_record

from . import build, guests, snapshots
from .base import Recipe, Step, register, sync
from .guests import CHECK_VMID, FINISH_RUNNING, READDRESS, START, node_name
from .moves import set_ha

LABELS = {
    **guests.LABELS,
    "clone": _("Cloning template"),
    "snapshot": _("Taking snapshot"),
    "swap": _("Swapping roles"),
    "handover": _("Moving schedule and high availability to production"),
}


def clone(ctx):
    s = ctx.server
    existing = ctx.pve.guest_status(node_name(ctx), s.kind, s.vmid)
    if existing is not None:
        return guests.wait_while_locked(existing)
    source = Server.objects.select_related("node").get(pk=ctx.op.peer_id)
    return ctx.pve.clone_guest(
        node=source.node.name, kind=s.kind, vmid=source.vmid, newid=s.vmid, hostname=s.hostname,
        target=node_name(ctx), storage=s.cluster.storage,
    )


def safety_snapshot(ctx):
    if not ctx.params.get("snapshots"):
        return None
    ctx.params.setdefault("name", ctx.params["snapshot"])
    return snapshots.take(ctx)


def addresses(server):
    return {"ipv4": server.ipv4, "ipv6_prefix": server.ipv6_prefix, "ipv6": server.ipv6}


def swap(ctx):
    """Swap names and addresses in Proxmox, then in the database, exactly once."""
    production, staging = ctx.server, Server.objects.select_related("node", "cluster").get(pk=ctx.op.peer_id)
    if not ctx.params.get("swapped"):
        with transaction.atomic():
            prod = {"hostname": production.hostname, **addresses(production)}
            stag = {"hostname": staging.hostname, **addresses(staging)}
            Server.objects.filter(pk=production.pk).update(
                hostname=f"promote-{production.pk}", ipv4=None, ipv6_prefix=None, ipv6=None
            )
            Server.objects.filter(pk=staging.pk).update(**prod, staging_of=None)
            Server.objects.filter(pk=production.pk).update(**stag, staging_of=staging)
            # Reverse DNS names belong to the addresses, so they go where the addresses went.
            prod_names = list(PtrRecord.objects.filter(server=production).values_list("pk", flat=True))
            PtrRecord.objects.filter(server=staging).update(server=production)
            PtrRecord.objects.filter(pk__in=prod_names).update(server=staging)
            ctx.params["swapped"] = True
            ctx.op.save(update_fields=["params"])
    for server in (Server.objects.select_related("node", "cluster").get(pk=pk) for pk in (production.pk, staging.pk)):
        ctx.server = server
        guests.readdress(ctx)
        if server.status == Server.Status.RUNNING:
            # Cloud-init applies the new address on the next boot.
            ctx.pve.power(node=server.node.name, kind=server.kind, vmid=server.vmid, action="reboot")
    ctx.server = Server.objects.select_related("node", "cluster", "tenant").get(pk=production.pk)


def handover(ctx):
    """What belongs to the production role moves to the new production server, exactly once:
    the backup schedule with its retention, high availability and the link to its history.

    Backups made so far stay with the old server (now the staging copy): they hold its data.
    """
    old = ctx.server
    new = Server.objects.select_related("node", "cluster", "tenant").get(pk=ctx.op.peer_id)
    if old.ha_enabled and not ctx.params.get("ha_moved"):
        ctx.params["ha_moved"] = True  # saved first: a successor finishes the move even when half done
        ctx.op.save(update_fields=["params"])
    if ctx.params.get("ha_moved"):
        for server, enable in ((new, True), (old, False)):
            if server.ha_enabled != enable:
                set_ha(ctx, server, enable)
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


def _promote_failed(op):
    if not op.params.get("swapped"):
        Snapshot.objects.filter(server=op.server_id, name=op.params.get("snapshot"), ready=False).delete()


def staging_steps(op):
    return [CHECK_VMID, Step("clone", clone), READDRESS, START, FINISH_RUNNING]


register(
    Recipe(Operation.Kind.STAGING, staging_steps, labels=LABELS,
           on_failure=lambda op: build.discard(op, staging_steps(op), build.FAILED_REASONS["create"])),
    Recipe(Operation.Kind.PROMOTE, lambda op: [Step("snapshot", safety_snapshot), snapshots.READY, sync("swap", swap),
                                               sync("handover", handover)],
           on_failure=_promote_failed, labels=LABELS),
)
