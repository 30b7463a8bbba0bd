"""High availability and moving servers between nodes (staff moves and drains)."""

from django.utils.translation import gettext_lazy as _

from provisioning.models import Operation, Server
from provisioning.proxmox import ProxmoxError

from .base import FollowUp, Recipe, Step, register, sync
from .guests import node_name

LABELS = {
    "ha": _("Configuring high availability"),
    "migrate": _("Moving to another node"),
    "finish": _("Finishing"),
}
DRAIN_TASK = "provisioning.tasks.continue_drain"


def set_ha(ctx, server, enabled):
    """Add or remove the HA resource; its requested state follows the server's power state."""
    try:
        if enabled:
            state = "started" if server.status == Server.Status.RUNNING else "stopped"
            ctx.pve.ha_add(kind=server.kind, vmid=server.vmid, state=state)
        else:
            ctx.pve.ha_remove(kind=server.kind, vmid=server.vmid)
    except ProxmoxError as exc:
        # Done before a crash: the resource is already there, or already gone.
        if "already defined" not in exc.message and "not HA managed" not in exc.message:
            raise
    server.ha_enabled = enabled
    server.save(update_fields=["ha_enabled"])


def ha(ctx):
    set_ha(ctx, ctx.server, ctx.params["enabled"])


def migrate(ctx):
    s, target = ctx.server, ctx.op.target_node
    status = ctx.pve.guest_status(target.name, s.kind, s.vmid)
    if status is not None and not status.get("lock"):
        return None  # already there
    return ctx.pve.migrate(
        node=node_name(ctx), kind=s.kind, vmid=s.vmid, target=target.name, running=s.status == Server.Status.RUNNING
    )


def arrived(ctx):
    ctx.server.node = ctx.op.target_node
    ctx.server.save(update_fields=["node"])


def _migrate_follow_ups(op):
    # A drain goes on with the next server only once this move has reported its own outcome.
    if op.drain_node_id:
        return [FollowUp(DRAIN_TASK, (op.drain_node_id, op.pk))]
    return []


register(
    Recipe(Operation.Kind.HA, lambda op: [sync("ha", ha)], labels=LABELS),
    Recipe(Operation.Kind.MIGRATE, lambda op: [Step("migrate", migrate), sync("finish", arrived)],
           follow_ups=_migrate_follow_ups, labels=LABELS),
)
