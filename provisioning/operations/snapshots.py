"""Snapshots: take, roll back to, delete. Proxmox is the authority; Snapshot rows mirror it for pages."""

from django.utils.translation import gettext_lazy as _

from provisioning.models import Operation, Server, Snapshot

from . import guests
from .base import Recipe, Step, register, sync
from .guests import node_name

LABELS = {
    "snapshot": _("Taking snapshot"),
    "rollback": _("Rolling back"),
    "snapshot_delete": _("Deleting snapshot"),
    "finish": _("Finishing"),
}


def snapshot_names(ctx):
    s = ctx.server
    return {e["name"] for e in ctx.pve.snapshots(node=node_name(ctx), kind=s.kind, vmid=s.vmid) if e["name"] != "current"}


def take(ctx):
    s, p = ctx.server, ctx.params
    if p["name"] in snapshot_names(ctx):
        return None
    return ctx.pve.snapshot_create(
        node=node_name(ctx), kind=s.kind, vmid=s.vmid, name=p["name"], description=p.get("description", ""),
        include_ram=p.get("include_ram", False),
    )


def ready(ctx):
    s = ctx.server
    listing = {e["name"]: e for e in ctx.pve.snapshots(node=node_name(ctx), kind=s.kind, vmid=s.vmid)}
    name = ctx.params["name"]
    Snapshot.objects.filter(server=s, name=name).update(ready=True, parent=listing.get(name, {}).get("parent", ""))


def rollback(ctx):
    s, p = ctx.server, ctx.params
    return ctx.pve.snapshot_rollback(node=node_name(ctx), kind=s.kind, vmid=s.vmid, name=p["name"], start=p.get("start"))


def settle(ctx):
    """After a rollback or a restore in place: the server is as Proxmox says, and meant to be so."""
    server = ctx.server
    running = (guests.guest_status(ctx) or {}).get("status") == "running"
    server.transition(Server.Status.RUNNING if running else Server.Status.STOPPED)
    server.should_run = running
    server.save(update_fields=["should_run"])


def remove(ctx):
    s, name = ctx.server, ctx.params["name"]
    if name not in snapshot_names(ctx):
        return None
    return ctx.pve.snapshot_delete(node=node_name(ctx), kind=s.kind, vmid=s.vmid, name=name)


def forget(ctx):
    Snapshot.objects.filter(server=ctx.server, name=ctx.params["name"]).delete()


def _snapshot_failed(op):
    Snapshot.objects.filter(server=op.server_id, name=op.params.get("name"), ready=False).delete()


TAKE = Step("snapshot", take)
READY = sync("finish", ready)

register(
    Recipe(Operation.Kind.SNAPSHOT, lambda op: [TAKE, READY], on_failure=_snapshot_failed, labels=LABELS),
    Recipe(Operation.Kind.ROLLBACK, lambda op: [Step("rollback", rollback), sync("finish", settle)], labels=LABELS),
    Recipe(Operation.Kind.SNAPSHOT_DELETE, lambda op: [Step("snapshot_delete", remove), sync("finish", forget)],
           labels=LABELS),
)
