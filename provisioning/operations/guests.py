"""Steps and helpers that several families share: finding the guest, power, finishing, addressing."""

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from provisioning import rdns
from provisioning.models import Cluster, Drift, Node, Server
from provisioning.placement import allocate_vmid, pool_for
from provisioning.proxmox import ProxmoxError

from .base import Step, Yield, sync

LABELS = {
    "check_vmid": _("Reserving VMID"),
    "start": _("Starting"),
    "stop": _("Stopping"),
    "shutdown": _("Shutting down"),
    "reboot": _("Rebooting"),
    "destroy": _("Removing from Proxmox"),
    "onboot": _("Setting start at boot"),
    "readdress": _("Setting name and address"),
    "finish": _("Finishing"),
}


def node_name(ctx):
    return ctx.server.node.name


def guest_status(ctx):
    s = ctx.server
    return ctx.pve.guest_status(node_name(ctx), s.kind, s.vmid)


def wait_while_locked(status):
    return Yield(1.0) if status and status.get("lock") else None


def follow_guest(ctx):
    """The guest's status on the node it is on now, moving the server row there; None if no node has it.

    After an HA move, reconcile may not have run yet: a task sent to the old node would fail, a
    delete would think the guest gone, and a vzdump sent there even "succeeds" without backing
    anything up (Proxmox answers "OK").
    """
    s = ctx.server
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


def check_vmid(ctx):
    """Our database says the VMID is free; make sure Proxmox agrees, else take the next one."""
    server = ctx.server
    while not ctx.pve.vmid_is_free(server.vmid):
        with transaction.atomic():
            Cluster.objects.select_for_update().get(pk=server.cluster_id)
            Drift.objects.get_or_create(
                cluster_id=server.cluster_id, kind=Drift.Kind.UNKNOWN, vmid=server.vmid, resolved_at=None
            )
            server.vmid = allocate_vmid(server.cluster, skip=[server.vmid])
            server.save(update_fields=["vmid"])
    return None


def power(action, skip_when):
    def run(ctx):
        status = follow_guest(ctx)
        if status is None:
            raise ProxmoxError(f"{ctx.server.kind.upper()} {ctx.server.vmid} does not exist on {node_name(ctx)}")
        if status.get("status") == skip_when:
            return None
        s = ctx.server
        return ctx.pve.power(node=node_name(ctx), kind=s.kind, vmid=s.vmid, action=action)

    return run


def reboot(ctx):
    status = follow_guest(ctx)
    s = ctx.server
    if status and status.get("status") != "running":
        return ctx.pve.power(node=node_name(ctx), kind=s.kind, vmid=s.vmid, action="start")
    return ctx.pve.power(node=node_name(ctx), kind=s.kind, vmid=s.vmid, action="reboot")


def destroy(ctx):
    status = follow_guest(ctx)
    if status is None:
        return None
    if status.get("lock"):
        return wait_while_locked(status)
    s = ctx.server
    return ctx.pve.destroy(node=node_name(ctx), kind=s.kind, vmid=s.vmid)


def configure(ctx, **config):
    """Change the guest's configuration, whichever kind it is (names differ: VM name, CT hostname)."""
    s = ctx.server
    if s.kind == Server.Kind.QEMU:
        ctx.pve.configure_vm(node=node_name(ctx), vmid=s.vmid, **config)
    else:
        ctx.pve.configure_ct(node=node_name(ctx), vmid=s.vmid, **config)


def start_at_boot(on):
    """Proxmox starts onboot guests whenever their node boots; a server stopped on purpose stays off."""

    def run(ctx):
        configure(ctx, onboot=on)

    return run


def finish_with(status):
    def run(ctx):
        server = ctx.server
        server.transition(status)
        if status in (Server.Status.RUNNING, Server.Status.STOPPED):
            # What was asked for last is what reconcile holds Proxmox to from now on.
            server.should_run = status == Server.Status.RUNNING
            server.save(update_fields=["should_run"])
        if status == Server.Status.DELETED:
            retire(server)
        return None

    return run


def retire(server):
    rdns.forget(server)
    server.release()
    # Backups outlive their server for the retention period, then the expiry sweep removes them.
    expires = timezone.now() + timezone.timedelta(days=settings.BACKUP_RETENTION_DAYS)
    server.backups.filter(deleted_at__isnull=True, expires_at__isnull=True).update(expires_at=expires)


def ip6config(server):
    """The routed prefix's first address with the pool's gateway, else SLAAC."""
    pool = pool_for(server, version=6)
    if pool is None or not server.ipv6_prefix:
        return "ip6=auto"
    length = server.ipv6_prefix.rsplit("/", 1)[1]
    return f"ip6={server.ipv6}/{length},gw6={pool.gateway}"


def ipconfig(server):
    pool = pool_for(server)
    if pool is None:
        return f"ip=dhcp,{ip6config(server)}"
    return f"ip={server.ipv4}/{pool.prefixlen},gw={pool.gateway},{ip6config(server)}"


def ct_net0(server):
    pool = pool_for(server)
    ip = f"{server.ipv4}/{pool.prefixlen},gw={pool.gateway}" if pool else "dhcp"
    return f"name=eth0,bridge={server.cluster.bridge},ip={ip},{ip6config(server)}"


def readdress(ctx):
    """A restored or cloned guest carries the old name and address; give it this server's.

    A backup of a server made before start at boot existed carries onboot=0; this one starts with its node.
    """
    s = ctx.server
    if s.kind == Server.Kind.QEMU:
        configure(ctx, name=s.hostname, ipconfig0=ipconfig(s), onboot=True)
    else:
        configure(ctx, hostname=s.hostname, net0=ct_net0(s), onboot=True)


START = Step("start", power("start", skip_when="running"))
STOP = Step("stop", power("stop", skip_when="stopped"))
CHECK_VMID = sync("check_vmid", check_vmid)
READDRESS = sync("readdress", readdress)
FINISH_RUNNING = sync("finish", finish_with(Server.Status.RUNNING))
FINISH_STOPPED = sync("finish", finish_with(Server.Status.STOPPED))
FINISH_DELETED = sync("finish", finish_with(Server.Status.DELETED))
