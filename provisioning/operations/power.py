"""Power, rename and resize: the guest stays, its state or shape changes."""

from django.utils.translation import gettext_lazy as _

from provisioning.models import Operation, Server

from . import guests
from .base import Recipe, Step, register, sync
from .build import RESIZE_DISK
from .guests import FINISH_RUNNING, FINISH_STOPPED, START, STOP

LABELS = {**guests.LABELS, "rename": _("Renaming"), "configure": _("Configuring"), "resize_disk": _("Resizing disk")}

REBOOT = Step("reboot", guests.reboot)


def rename(ctx):
    s = ctx.server
    if s.kind == Server.Kind.QEMU:
        guests.configure(ctx, name=s.hostname)
    else:
        guests.configure(ctx, hostname=s.hostname)


def resize_config(ctx):
    s = ctx.server
    guests.configure(ctx, cores=s.cores, memory=s.memory_mb)


def resize_steps(op):
    steps = [sync("configure", resize_config)]
    if op.params.get("disk_grow"):
        steps.append(RESIZE_DISK)
    if op.server.kind == Server.Kind.QEMU and op.params.get("was_running") and op.params.get("needs_reboot"):
        steps.append(REBOOT)
    return steps


def _resize_failed(op):
    """Back to the old size wherever Proxmox was not changed yet."""
    server = Server.objects.get(pk=op.server_id)
    old = op.params.get("old", {})
    done = [s.name for s in resize_steps(op)][: op.step]
    if "configure" not in done:
        server.cores, server.memory_mb = old.get("cores", server.cores), old.get("memory_mb", server.memory_mb)
    if "resize_disk" not in done:
        server.disk_gb = old.get("disk_gb", server.disk_gb)
    server.save(update_fields=["cores", "memory_mb", "disk_gb"])


def _rename_failed(op):
    if op.params.get("old_hostname"):
        Server.objects.filter(pk=op.server_id).update(hostname=op.params["old_hostname"])


ONBOOT_ON = sync("onboot", guests.start_at_boot(True))
ONBOOT_OFF = sync("onboot", guests.start_at_boot(False))

register(
    Recipe(Operation.Kind.START, lambda op: [START, ONBOOT_ON, FINISH_RUNNING], labels=LABELS),
    Recipe(Operation.Kind.STOP, lambda op: [STOP, ONBOOT_OFF, FINISH_STOPPED], labels=LABELS),
    Recipe(Operation.Kind.SHUTDOWN, lambda op: [Step("shutdown", guests.power("shutdown", skip_when="stopped")),
                                                ONBOOT_OFF, FINISH_STOPPED], labels=LABELS),
    Recipe(Operation.Kind.REBOOT, lambda op: [REBOOT, FINISH_RUNNING], labels=LABELS),
    Recipe(Operation.Kind.RENAME, lambda op: [sync("rename", rename)], on_failure=_rename_failed, labels=LABELS),
    Recipe(Operation.Kind.RESIZE, resize_steps, on_failure=_resize_failed, labels=LABELS),
)
