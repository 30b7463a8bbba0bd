"""Building, reinstalling and deleting servers: the guest comes and goes."""

from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from provisioning import rdns
from provisioning.models import Operation, Server
from provisioning.placement import pool_for
from provisioning.proxmox import PVE, ProxmoxError
from provisioning.secrets import decrypt

from . import firewall, guests
from .base import Recipe, Step, register, sync
from .guests import CHECK_VMID, FINISH_DELETED, FINISH_RUNNING, START, STOP, node_name

LABELS = {
    **guests.LABELS,
    "clone": _("Cloning template"),
    "create_ct": _("Creating container"),
    "configure": _("Configuring"),
    "resize_disk": _("Resizing disk"),
}
# Customers read the portal's words; Proxmox's own text stays on the operation for staff.
FAILED_REASONS = {
    "create": gettext_noop("The build failed and everything reserved for it was released. JIKU's staff see the cause."),
    "reinstall": gettext_noop("The reinstall failed. JIKU's staff see the cause and repair the server."),
    "delete": gettext_noop("Deleting failed; the server is still there. JIKU's staff see the cause."),
}


def clone(ctx):
    existing = guests.guest_status(ctx)
    if existing is not None:
        # Our clone already started before a crash: wait for Proxmox to finish it, never clone twice.
        return guests.wait_while_locked(existing)
    s, image = ctx.server, ctx.server.image
    return ctx.pve.clone_vm(
        node=image.template_node, template_vmid=image.template_vmid, newid=s.vmid, name=s.hostname,
        target=s.node.name, storage=s.cluster.storage,
    )


def _forget_password(ctx):
    # The password has done its job; it must not linger in the database.
    if ctx.params.pop("password", None) is not None:
        ctx.op.save(update_fields=["params"])


def configure(ctx):
    s = ctx.server
    if s.kind == Server.Kind.QEMU:
        pool = pool_for(s)
        ctx.pve.configure_vm(
            node=node_name(ctx), vmid=s.vmid, cores=s.cores, memory=s.memory_mb, ciuser=s.default_user or None,
            cipassword=decrypt(ctx.params.get("password", "")) or None, ssh_keys=s.ssh_keys or None,
            ipconfig0=guests.ipconfig(s), nameserver=pool.nameserver if pool and pool.nameserver else None,
            net0=f"virtio,bridge={s.cluster.bridge}",
            # Windows reads cloud-init through cloudbase-init, which only knows the config-drive format
            # (Proxmox's default for a Windows ostype; said explicitly for templates without one).
            citype="configdrive2" if s.image is not None and s.image.is_windows else None,
            # Proxmox starts it again when its node reboots, without waiting for the portal.
            onboot=True,
        )
    else:
        ctx.pve.configure_ct(node=node_name(ctx), vmid=s.vmid, cores=s.cores, memory=s.memory_mb)
    _forget_password(ctx)


def create_ct(ctx):
    existing = guests.guest_status(ctx)
    if existing is not None:
        return guests.wait_while_locked(existing)
    s = ctx.server
    upid = ctx.pve.create_ct(
        node=node_name(ctx), vmid=s.vmid, ostemplate=s.image.volid, hostname=s.hostname, cores=s.cores,
        memory=s.memory_mb, rootfs=f"{s.cluster.storage}:{s.disk_gb}", net0=guests.ct_net0(s),
        password=decrypt(ctx.params.get("password", "")) or None, ssh_keys=s.ssh_keys or None, onboot=True,
    )
    _forget_password(ctx)
    return upid


def resize_disk(ctx):
    s = ctx.server
    disk = "scsi0" if s.kind == Server.Kind.QEMU else "rootfs"
    return ctx.pve.resize_disk(node=node_name(ctx), kind=s.kind, vmid=s.vmid, disk=disk, size_gb=s.disk_gb)


RESIZE_DISK = Step("resize_disk", resize_disk)
DESTROY = Step("destroy", guests.destroy)


def build_steps(server):
    if server.kind == Server.Kind.QEMU:
        return [Step("clone", clone), sync("configure", configure), RESIZE_DISK, START]
    return [Step("create_ct", create_ct), START]


def discard(op, steps, reason):
    """Nothing reserved after a failed build: the half-built guest goes, and so do VMID and address."""
    server = Server.objects.select_related("cluster", "node").get(pk=op.server_id)
    names = [s.name for s in steps]
    made = [names.index(n) for n in ("clone", "create_ct", "restore") if n in names]
    if made and op.step > min(made) and server.node and server.vmid:
        try:
            PVE(server.cluster).destroy(node=server.node.name, kind=server.kind, vmid=server.vmid)
        except ProxmoxError:
            pass  # reconcile reports it as drift if it stayed
    server.transition(Server.Status.FAILED, reason)
    rdns.forget(server)
    server.release()


def _create_failed(op):
    discard(op, create_steps(op), FAILED_REASONS["create"])


def _reinstall_failed(op):
    Server.objects.get(pk=op.server_id).transition(Server.Status.UNAVAILABLE, FAILED_REASONS["reinstall"])


def gone_back(op, reason):
    """A delete (or conversion) that failed gives the server back in the state it had, or stopped."""
    server = Server.objects.get(pk=op.server_id)
    # Past the first step the guest was already stopped on the way to being destroyed or converted.
    previous = op.params.get("previous_status", Server.Status.UNAVAILABLE)
    stopped = op.step >= 1 and previous == Server.Status.RUNNING
    server.transition(Server.Status.STOPPED if stopped else previous, reason)


def create_steps(op):
    return [CHECK_VMID, *build_steps(op.server), FINISH_RUNNING]


register(
    Recipe(Operation.Kind.CREATE, create_steps, on_failure=_create_failed, labels=LABELS),
    # Destroying the guest drops its firewall in Proxmox: the portal's is written again, last, so a
    # firewall saved while the reinstall runs only adds steps at the end.
    Recipe(Operation.Kind.REINSTALL,
           lambda op: [STOP, DESTROY, *build_steps(op.server), FINISH_RUNNING, *firewall.steps_for(op.server)],
           on_failure=_reinstall_failed, labels={**LABELS, **firewall.LABELS}),
    Recipe(Operation.Kind.DELETE, lambda op: [STOP, DESTROY, FINISH_DELETED],
           on_failure=lambda op: gone_back(op, FAILED_REASONS["delete"]), labels=LABELS),
)
