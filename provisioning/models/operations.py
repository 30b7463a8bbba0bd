"""Operations: one row per piece of remote work, with the words a customer reads when it fails."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenants.models import Tenant, TenantQuerySet

from .images import Image
from .infrastructure import Cluster, Node
from .servers import Server


class Operation(models.Model):
    class Kind(models.TextChoices):
        CREATE = "create", _("Create")
        START = "start", _("Start")
        STOP = "stop", _("Stop")
        SHUTDOWN = "shutdown", _("Shut down")
        REBOOT = "reboot", _("Reboot")
        RESIZE = "resize", _("Resize")
        REINSTALL = "reinstall", _("Reinstall")
        RENAME = "rename", _("Rename")
        DELETE = "delete", _("Delete")
        DOWNLOAD = "download", _("Download template")
        SNAPSHOT = "snapshot", _("Snapshot")
        ROLLBACK = "rollback", _("Rollback")
        SNAPSHOT_DELETE = "snapshot_delete", _("Delete snapshot")
        BACKUP = "backup", _("Backup")
        RESTORE = "restore", _("Restore")
        BACKUP_DELETE = "backup_delete", _("Delete backup")
        BACKUP_PROTECT = "backup_protect", _("Protect backup")
        HA = "ha", _("High availability")
        MIGRATE = "migrate", _("Move to another node")
        STAGING = "staging", _("Create staging copy")
        PROMOTE = "promote", _("Promote staging")
        TEMPLATE = "template", _("Turn into template")
        FIREWALL = "firewall", _("Apply firewall")

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        WAITING = "waiting", _("Waiting")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    ACTIVE_STATES = ["queued", "running", "waiting"]
    STATE_COLOURS = {
        "queued": "grey",
        "running": "blue",
        "waiting": "yellow",
        "succeeded": "green",
        "failed": "red",
        "cancelled": "grey",
    }

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Empty for platform work that belongs to no customer (marketplace downloads).
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.PROTECT, related_name="operations")
    server = models.ForeignKey(Server, null=True, blank=True, on_delete=models.CASCADE, related_name="operations")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.QUEUED)
    # What the operation acts on besides its server: real rows, not ids in params.
    cluster = models.ForeignKey(Cluster, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    image = models.ForeignKey(Image, null=True, blank=True, on_delete=models.SET_NULL, related_name="operations")
    backup = models.ForeignKey("Backup", null=True, blank=True, on_delete=models.SET_NULL, related_name="operations")
    target_node = models.ForeignKey(Node, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    drain_node = models.ForeignKey(Node, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The other server: the source of a staging copy, the staging copy a promote hands over to.
    peer = models.ForeignKey(Server, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The node (its id) whose task slot this operation holds while its Proxmox task runs. Engine
    # bookkeeping, not a foreign key: it changes under the node's row lock, where a key-share lock
    # on the node would deadlock with orders inserting servers onto it.
    slot_node = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)
    params = models.JSONField(default=dict, blank=True)
    step = models.PositiveSmallIntegerField(_("step"), default=0)
    step_count = models.PositiveSmallIntegerField(default=1)
    step_name = models.CharField(_("current step"), max_length=64, blank=True)
    upid = models.CharField(max_length=200, blank=True)
    upid_node = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(_("error"), blank=True)
    last_error = models.TextField(_("last transient error"), blank=True)
    not_before = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("operation")
        verbose_name_plural = _("operations")
        indexes = [models.Index(fields=["state", "updated_at"])]

    def __str__(self):
        return f"{self.get_kind_display()} {self.server or ''} ({self.get_state_display()})"

    @property
    def is_active(self):
        return self.state in self.ACTIVE_STATES

    @property
    def kind_label(self):
        return OPERATION_KINDS[self.kind]

    @property
    def customer_error(self):
        """What a customer reads about a failure: the portal's words, never Proxmox's text or internals."""
        if self.state != self.State.FAILED:
            return ""
        return FAILURE_MESSAGES.get(self.kind, FAILURE_DEFAULT)

    @property
    def state_colour(self):
        return self.STATE_COLOURS.get(self.state, "grey")

    @property
    def progress_percent(self):
        if self.state == self.State.SUCCEEDED:
            return 100
        return int(100 * self.step / max(self.step_count, 1))

    @property
    def duration(self):
        if self.started_at is None:
            return None
        return (self.finished_at or timezone.now()) - self.started_at


OPERATION_KINDS = dict(Operation.Kind.choices)
FAILURE_DEFAULT = _("This did not work. JIKU's staff see the cause and look into it; you can try again later.")
# Proxmox's own error text stays in Operation.error for staff.
FAILURE_MESSAGES = {
    "create": _("The build failed and everything reserved for it was released. JIKU's staff see the cause."),
    "reinstall": _("The reinstall failed. JIKU's staff see the cause and repair the server."),
    "delete": _("Deleting failed; the server is still there. JIKU's staff see the cause."),
    "start": _("The server could not be started. JIKU's staff see the cause; you can try again."),
    "stop": _("The server could not be stopped. JIKU's staff see the cause; you can try again."),
    "shutdown": _("The server did not shut down. Try again, or stop it hard."),
    "reboot": _("The server could not be rebooted. JIKU's staff see the cause; you can try again."),
    "resize": _("Resizing failed; the server keeps its previous size where nothing was changed yet."),
    "rename": _("Renaming failed; the server keeps its previous name."),
    "snapshot": _("The snapshot could not be taken; nothing was changed."),
    "rollback": _("The rollback failed. JIKU's staff see the cause."),
    "snapshot_delete": _("The snapshot could not be deleted; it is still there."),
    "backup": _("The backup failed; the server was not changed. JIKU's staff see the cause."),
    "restore": _("The restore failed. JIKU's staff see the cause."),
    "backup_delete": _("The backup could not be deleted; it is still there."),
    "backup_protect": _("The protection could not be changed."),
    "ha": _("High availability could not be switched; it stays as it was."),
    "migrate": _("Moving the server to another node failed; it stays where it was."),
    "staging": _("The staging copy could not be built and everything reserved for it was released."),
    "promote": _("Promoting the staging copy failed; production was not swapped."),
    "firewall": _("The firewall rules could not be written to the server; the portal tries again when you save."),
}
