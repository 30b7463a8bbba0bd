"""The steps each kind of operation is made of.

A step returns a UPID (the engine waits for that Proxmox task), None (done), or a Yield (run me
again later). Every step checks Proxmox's state first, so running it twice (after a worker died
before its UPID was saved) never clones, creates or destroys twice.
"""

from dataclasses import dataclass
from typing import Callable

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from . import safety_steps as safe
from .models import Cluster, Drift, Operation, Server
from .placement import allocate_vmid, pool_for
from .proxmox import ProxmoxError
from .secrets import decrypt

STEP_LABELS = {
    "check_vmid": _("Reserving VMID"),
    "clone": _("Cloning template"),
    "create_ct": _("Creating container"),
    "configure": _("Configuring"),
    "resize_disk": _("Resizing disk"),
    "start": _("Starting"),
    "stop": _("Stopping"),
    "shutdown": _("Shutting down"),
    "reboot": _("Rebooting"),
    "destroy": _("Removing from Proxmox"),
    "rename": _("Renaming"),
    "finish": _("Finishing"),
    "onboot": _("Setting start at boot"),
    "snapshot": _("Taking snapshot"),
    "rollback": _("Rolling back"),
    "snapshot_delete": _("Deleting snapshot"),
    "vzdump": _("Backing up"),
    "record": _("Recording backup"),
    "prune": _("Removing old backups"),
    "restore": _("Restoring backup"),
    "readdress": _("Setting name and address"),
    "ha": _("Configuring high availability"),
    "migrate": _("Moving to another node"),
    "backup_delete": _("Deleting backup"),
    "protect": _("Changing protection"),
    "swap": _("Swapping roles"),
    "handover": _("Moving schedule and high availability to production"),
    "download": _("Downloading template"),
    "template": _("Turning into template"),
    "pin": _("Asking the registry for the digest"),
    "clear": _("Removing an old file of the same name"),
    "verify": _("Checking the digest again"),
}


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable
    starts_task: bool = True

    @property
    def label(self):
        return STEP_LABELS.get(self.name, self.name)


def _node(ctx):
    return ctx.server.node.name


def _guest(ctx):
    s = ctx.server
    return ctx.pve.guest_status(_node(ctx), s.kind, s.vmid)


def _wait_while_locked(status):
    from .engine import Yield

    return Yield(1.0) if status and status.get("lock") else None


# --- create ---------------------------------------------------------------------------------
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


def clone(ctx):
    existing = _guest(ctx)
    if existing is not None:
        # Our clone already started before a crash: wait for Proxmox to finish it, never clone twice.
        return _wait_while_locked(existing)
    s, image = ctx.server, ctx.server.image
    return ctx.pve.clone_vm(
        node=image.template_node,
        template_vmid=image.template_vmid,
        newid=s.vmid,
        name=s.hostname,
        target=s.node.name,
        storage=s.cluster.storage,
    )


def _ipconfig(server):
    pool = pool_for(server)
    if pool is None:
        return "ip=dhcp,ip6=auto"
    return f"ip={server.ipv4}/{pool.prefixlen},gw={pool.gateway},ip6=auto"


def configure(ctx):
    s = ctx.server
    password = decrypt(ctx.params.get("password", ""))
    pool = pool_for(s)
    if s.kind == Server.Kind.QEMU:
        ctx.pve.configure_vm(
            node=_node(ctx),
            vmid=s.vmid,
            cores=s.cores,
            memory=s.memory_mb,
            ciuser=s.default_user or None,
            cipassword=password or None,
            ssh_keys=s.ssh_keys or None,
            ipconfig0=_ipconfig(s),
            nameserver=pool.nameserver if pool and pool.nameserver else None,
            net0=f"virtio,bridge={s.cluster.bridge}",
            # Proxmox starts it again when its node reboots, without waiting for the portal.
            onboot=True,
        )
    else:
        ctx.pve.configure_ct(node=_node(ctx), vmid=s.vmid, cores=s.cores, memory=s.memory_mb)
    # The password has done its job; it must not linger in the database.
    if ctx.params.pop("password", None) is not None:
        ctx.op.save(update_fields=["params"])
    return None


def create_ct(ctx):
    existing = _guest(ctx)
    if existing is not None:
        return _wait_while_locked(existing)
    s = ctx.server
    pool = pool_for(s)
    ip = f"{s.ipv4}/{pool.prefixlen},gw={pool.gateway}" if pool else "dhcp"
    upid = ctx.pve.create_ct(
        node=_node(ctx),
        vmid=s.vmid,
        ostemplate=s.image.volid,
        hostname=s.hostname,
        cores=s.cores,
        memory=s.memory_mb,
        rootfs=f"{s.cluster.storage}:{s.disk_gb}",
        net0=f"name=eth0,bridge={s.cluster.bridge},ip={ip},ip6=auto",
        password=decrypt(ctx.params.get("password", "")) or None,
        ssh_keys=s.ssh_keys or None,
        onboot=True,
    )
    if ctx.params.pop("password", None) is not None:
        ctx.op.save(update_fields=["params"])
    return upid


def resize_disk(ctx):
    s = ctx.server
    disk = "scsi0" if s.kind == Server.Kind.QEMU else "rootfs"
    return ctx.pve.resize_disk(node=_node(ctx), kind=s.kind, vmid=s.vmid, disk=disk, size_gb=s.disk_gb)


# --- power ----------------------------------------------------------------------------------
def _power(action, skip_when):
    def run(ctx):
        status = safe.follow_guest(ctx)
        if status is None:
            raise ProxmoxError(f"{ctx.server.kind.upper()} {ctx.server.vmid} does not exist on {_node(ctx)}")
        if status.get("status") == skip_when:
            return None
        s = ctx.server
        return ctx.pve.power(node=_node(ctx), kind=s.kind, vmid=s.vmid, action=action)

    return run


def reboot(ctx):
    status = safe.follow_guest(ctx)
    s = ctx.server
    if status and status.get("status") != "running":
        return ctx.pve.power(node=_node(ctx), kind=s.kind, vmid=s.vmid, action="start")
    return ctx.pve.power(node=_node(ctx), kind=s.kind, vmid=s.vmid, action="reboot")


def destroy(ctx):
    status = safe.follow_guest(ctx)
    if status is None:
        return None
    if status.get("lock"):
        return _wait_while_locked(status)
    s = ctx.server
    return ctx.pve.destroy(node=_node(ctx), kind=s.kind, vmid=s.vmid)


def _start_at_boot(on):
    """Proxmox starts onboot guests whenever their node boots; a server stopped on purpose stays off."""

    def run(ctx):
        s = ctx.server
        if s.kind == Server.Kind.QEMU:
            ctx.pve.configure_vm(node=_node(ctx), vmid=s.vmid, onboot=on)
        else:
            ctx.pve.configure_ct(node=_node(ctx), vmid=s.vmid, onboot=on)

    return run


def rename(ctx):
    s = ctx.server
    if s.kind == Server.Kind.QEMU:
        ctx.pve.configure_vm(node=_node(ctx), vmid=s.vmid, name=s.hostname)
    else:
        ctx.pve.configure_ct(node=_node(ctx), vmid=s.vmid, hostname=s.hostname)
    return None


def _finish_with(status):
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
    server.release()
    # Backups outlive their server for the retention period, then the expiry sweep removes them.
    expires = timezone.now() + timezone.timedelta(days=settings.BACKUP_RETENTION_DAYS)
    server.backups.filter(deleted_at__isnull=True, expires_at__isnull=True).update(expires_at=expires)


# --- composition -----------------------------------------------------------------------------
START = Step("start", _power("start", skip_when="running"))
STOP = Step("stop", _power("stop", skip_when="stopped"))


def _build_steps(server):
    if server.kind == Server.Kind.QEMU:
        return [
            Step("clone", clone),
            Step("configure", configure, starts_task=False),
            Step("resize_disk", resize_disk),
            START,
        ]
    return [Step("create_ct", create_ct), START]


def steps_for(op):
    server = op.server
    kind = op.kind
    finish_running = Step("finish", _finish_with(Server.Status.RUNNING), starts_task=False)
    finish_stopped = Step("finish", _finish_with(Server.Status.STOPPED), starts_task=False)
    if kind == Operation.Kind.CREATE:
        return [Step("check_vmid", check_vmid, starts_task=False), *_build_steps(server), finish_running]
    if kind == Operation.Kind.REINSTALL:
        return [STOP, Step("destroy", destroy), *_build_steps(server), finish_running]
    if kind == Operation.Kind.START:
        return [START, _sync("onboot", _start_at_boot(True)), finish_running]
    if kind == Operation.Kind.STOP:
        return [STOP, _sync("onboot", _start_at_boot(False)), finish_stopped]
    if kind == Operation.Kind.SHUTDOWN:
        return [Step("shutdown", _power("shutdown", skip_when="stopped")), _sync("onboot", _start_at_boot(False)), finish_stopped]
    if kind == Operation.Kind.REBOOT:
        return [Step("reboot", reboot), finish_running]
    if kind == Operation.Kind.RENAME:
        return [Step("rename", rename, starts_task=False)]
    if kind == Operation.Kind.RESIZE:
        steps = [Step("configure", _resize_config, starts_task=False)]
        if op.params.get("disk_grow"):
            steps.append(Step("resize_disk", resize_disk))
        if server.kind == Server.Kind.QEMU and op.params.get("was_running") and op.params.get("needs_reboot"):
            steps.append(Step("reboot", reboot))
        return steps
    if kind == Operation.Kind.DELETE:
        return [STOP, Step("destroy", destroy), Step("finish", _finish_with(Server.Status.DELETED), starts_task=False)]
    if kind == Operation.Kind.TEMPLATE:
        return [STOP, Step("template", safe.template_convert), _sync("finish", safe.template_done)]
    return _safety_steps(op, finish_running)


def _sync(name, fn):
    return Step(name, fn, starts_task=False)


def _safety_steps(op, finish_running):
    kind = op.kind
    if kind == Operation.Kind.SNAPSHOT:
        return [Step("snapshot", safe.snapshot_take), _sync("finish", safe.snapshot_ready)]
    if kind == Operation.Kind.ROLLBACK:
        return [Step("rollback", safe.rollback), _sync("finish", safe.rollback_done)]
    if kind == Operation.Kind.SNAPSHOT_DELETE:
        return [Step("snapshot_delete", safe.snapshot_remove), _sync("finish", safe.snapshot_forget)]
    if kind == Operation.Kind.BACKUP:
        return [Step("vzdump", safe.vzdump), _sync("record", safe.backup_record), _sync("prune", safe.backup_prune)]
    if kind == Operation.Kind.BACKUP_DELETE:
        return [_sync("backup_delete", safe.backup_remove)]
    if kind == Operation.Kind.BACKUP_PROTECT:
        return [_sync("protect", safe.backup_set_protection)]
    if kind == Operation.Kind.RESTORE:
        if op.params.get("new"):
            return [_sync("check_vmid", check_vmid), Step("restore", safe.restore), _sync("readdress", safe.readdress), START, finish_running]
        return [STOP, Step("restore", safe.restore), Step("start", safe.start_if_was_running), _sync("finish", safe.rollback_done)]
    if kind == Operation.Kind.DOWNLOAD and op.params.get("oci"):
        nodes = op.params["nodes"]
        clears = [Step("clear", safe.oci_clear_on(node)) for node in nodes]
        pulls = [Step("download", safe.oci_pull_on(node)) for node in nodes]
        return [_sync("pin", safe.oci_pin), *clears, *pulls, _sync("verify", safe.oci_verify), _sync("finish", safe.download_done)]
    if kind == Operation.Kind.DOWNLOAD:
        return [Step("download", safe.download_on(node)) for node in op.params["nodes"]] + [_sync("finish", safe.download_done)]
    if kind == Operation.Kind.HA:
        return [_sync("ha", safe.ha_apply)]
    if kind == Operation.Kind.MIGRATE:
        return [Step("migrate", safe.migrate), _sync("finish", safe.migrate_done)]
    if kind == Operation.Kind.STAGING:
        return [_sync("check_vmid", check_vmid), Step("clone", safe.staging_clone), _sync("readdress", safe.readdress), START, finish_running]
    if kind == Operation.Kind.PROMOTE:
        return [Step("snapshot", safe.promote_snapshot), _sync("finish", safe.snapshot_ready), _sync("swap", safe.promote_swap),
                _sync("handover", safe.promote_handover)]
    raise ValueError(f"unknown operation kind {kind}")


def _resize_config(ctx):
    s = ctx.server
    if s.kind == Server.Kind.QEMU:
        ctx.pve.configure_vm(node=_node(ctx), vmid=s.vmid, cores=s.cores, memory=s.memory_mb)
    else:
        ctx.pve.configure_ct(node=_node(ctx), vmid=s.vmid, cores=s.cores, memory=s.memory_mb)
    return None


def step_label(op):
    return STEP_LABELS.get(op.step_name, op.step_name)


# --- failure ---------------------------------------------------------------------------------
FAILED_REASONS = {
    "create": gettext_noop("The build failed and everything reserved for it was released. JIKU's staff see the cause."),
    "reinstall": gettext_noop("The reinstall failed. JIKU's staff see the cause and repair the server."),
    "delete": gettext_noop("Deleting failed; the server is still there. JIKU's staff see the cause."),
    "template": gettext_noop("Turning the server into a template failed. JIKU's staff see the cause."),
}

_SERVER_KINDS = {"create", "start", "stop", "shutdown", "reboot", "resize", "reinstall", "rename", "delete", "template"}

def on_failure(op):
    """Leave a clean state: nothing reserved after a failed build, old values after a failed change."""
    if op.kind not in _SERVER_KINDS:
        safe.on_failure(op)
        return
    server = Server.objects.select_related("cluster", "node").get(pk=op.server_id)
    # Customers read the portal's words; Proxmox's own text stays on the operation for staff.
    reason = FAILED_REASONS.get(op.kind, "")
    if op.kind == Operation.Kind.CREATE:
        names = [s.name for s in steps_for(op)]
        built = op.step > max(names.index(n) for n in ("clone", "create_ct") if n in names)
        if built and server.node and server.vmid:
            # We made this guest; remove it so neither VMID nor disk space stays taken in Proxmox.
            from .proxmox import PVE

            try:
                PVE(server.cluster).destroy(node=server.node.name, kind=server.kind, vmid=server.vmid)
            except ProxmoxError:
                pass
        server.transition(Server.Status.FAILED, reason)
        server.release()
    elif op.kind == Operation.Kind.RESIZE:
        old = op.params.get("old", {})
        done = [s.name for s in steps_for(op)][: op.step]
        if "configure" not in done:
            server.cores, server.memory_mb = old.get("cores", server.cores), old.get("memory_mb", server.memory_mb)
        if "resize_disk" not in done:
            server.disk_gb = old.get("disk_gb", server.disk_gb)
        server.save(update_fields=["cores", "memory_mb", "disk_gb"])
    elif op.kind == Operation.Kind.RENAME:
        server.hostname = op.params.get("old_hostname", server.hostname)
        server.save(update_fields=["hostname"])
    elif op.kind == Operation.Kind.REINSTALL:
        server.transition(Server.Status.UNAVAILABLE, reason)
    elif op.kind in (Operation.Kind.DELETE, Operation.Kind.TEMPLATE):
        # Past the first step the guest was already stopped on the way to being destroyed or converted.
        stopped = op.step >= 1 and op.params.get("previous_status") == Server.Status.RUNNING
        server.transition(Server.Status.STOPPED if stopped else op.params.get("previous_status", Server.Status.UNAVAILABLE), reason)
        if op.kind == Operation.Kind.TEMPLATE:
            safe.image_failed(op)
