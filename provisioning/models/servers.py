"""A tenant's server (VM or container): its size, addresses, status and the transitions between them."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from tenants.models import Tenant, TenantQuerySet

from .images import Image
from .infrastructure import Cluster, Node


class ServerQuerySet(TenantQuerySet):
    def live(self):
        """Servers that hold resources: counted against quota and node capacity."""
        return self.exclude(status__in=[Server.Status.DELETED, Server.Status.FAILED])


class Server(models.Model):
    class Kind(models.TextChoices):
        QEMU = "qemu", _("Virtual machine")
        LXC = "lxc", _("Container")

    class Status(models.TextChoices):
        BUILDING = "building", _("Building")
        RUNNING = "running", _("Running")
        STOPPED = "stopped", _("Stopped")
        UNAVAILABLE = "unavailable", _("Unavailable")
        DELETING = "deleting", _("Deleting")
        DELETED = "deleted", _("Deleted")
        FAILED = "failed", _("Build failed")

    STATUS_COLOURS = {
        "building": "blue",
        "running": "green",
        "stopped": "grey",
        "unavailable": "red",
        "deleting": "yellow",
        "deleted": "grey",
        "failed": "red",
    }
    # Which status may follow which: the one place transitions are decided.
    TRANSITIONS = {
        "building": {"running", "stopped", "failed", "unavailable", "deleting"},
        "running": {"stopped", "unavailable", "deleting", "building"},
        "stopped": {"running", "unavailable", "deleting", "building"},
        "unavailable": {"running", "stopped", "deleting"},
        "deleting": {"deleted", "running", "stopped", "unavailable"},
        "failed": {"deleted"},
        "deleted": set(),
    }

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="servers")
    # The server whose production role this one took over (promote), for its history and billing.
    predecessor = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="successors", editable=False
    )
    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="servers")
    node = models.ForeignKey(Node, null=True, blank=True, on_delete=models.SET_NULL, related_name="servers")
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    hostname = models.CharField(_("hostname"), max_length=63)
    vmid = models.PositiveIntegerField(_("VMID"), null=True, blank=True)
    image = models.ForeignKey(Image, null=True, blank=True, on_delete=models.SET_NULL, related_name="servers")
    cores = models.PositiveIntegerField(_("cores"))
    memory_mb = models.PositiveIntegerField(_("memory (MiB)"))
    disk_gb = models.PositiveIntegerField(_("disk (GiB)"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.BUILDING)
    # An untranslated message (msgid) and its parameters, translated when shown, so each reader
    # gets it in their own language. Proxmox's own texts stay on the operation, for staff.
    status_reason = models.CharField(_("status reason"), max_length=300, blank=True)
    status_reason_params = models.JSONField(default=dict, blank=True)
    # The power state the customer (or JIKU) asked for last; reconcile compares Proxmox with it.
    should_run = models.BooleanField(_("should be running"), default=True)
    auto_restart = models.BooleanField(
        _("restart automatically"), default=False,
        help_text=_("Start the server again when it stops without anyone asking the portal to stop it."),
    )
    ha_enabled = models.BooleanField(_("high availability"), default=False)
    ha_state = models.CharField(_("HA state"), max_length=32, blank=True)
    # A staging copy points at the server it was cloned from.
    staging_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="staging_copies"
    )
    ipv4 = models.GenericIPAddressField(_("IPv4 address"), null=True, blank=True)
    # The routed prefix (compressed CIDR, unique per cluster) and its first address, set in the guest.
    ipv6_prefix = models.CharField(_("IPv6 prefix"), max_length=50, null=True, blank=True)
    ipv6 = models.GenericIPAddressField(_("IPv6 address"), protocol="IPv6", null=True, blank=True)
    default_user = models.CharField(_("user"), max_length=32, blank=True)
    ssh_keys = models.TextField(_("SSH keys"), blank=True)
    # From the ordered plan; empty means only the tenant's per-server limit applies.
    snapshot_slots = models.PositiveIntegerField(_("snapshot slots"), null=True, blank=True)
    backup_slots = models.PositiveIntegerField(_("backup slots"), null=True, blank=True)
    drift = models.CharField(_("drift"), max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ServerQuerySet.as_manager()

    class Meta:
        ordering = ["hostname"]
        verbose_name = _("server")
        verbose_name_plural = _("servers")
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "vmid"], condition=Q(vmid__isnull=False), name="unique_vmid_per_cluster"
            ),
            models.UniqueConstraint(
                fields=["tenant", "hostname"],
                condition=~Q(status__in=["deleted", "failed"]),
                name="unique_hostname_per_tenant",
            ),
            models.UniqueConstraint(
                fields=["cluster", "ipv4"], condition=Q(ipv4__isnull=False), name="unique_ipv4_per_cluster"
            ),
            models.UniqueConstraint(
                fields=["cluster", "ipv6_prefix"], condition=Q(ipv6_prefix__isnull=False),
                name="unique_ipv6_prefix_per_cluster",
            ),
            models.CheckConstraint(condition=Q(cores__gte=1, memory_mb__gte=16, disk_gb__gte=1), name="server_has_a_size"),
        ]

    def __str__(self):
        return self.hostname

    @property
    def status_colour(self):
        return self.STATUS_COLOURS.get(self.status, "grey")

    @property
    def snapshot_limit(self):
        return _within(self.tenant.max_snapshots_per_server, self.snapshot_slots)

    @property
    def backup_limit(self):
        return _within(self.tenant.max_backups_per_server, self.backup_slots)

    def can_transition(self, new_status):
        return new_status == self.status or new_status in self.TRANSITIONS[self.status]

    def transition(self, new_status, reason="", params=None, *, save=True):
        """Move to new_status if the table allows it; returns whether anything changed.

        `reason` is an untranslated message (mark it with gettext_noop) with `params`; it is
        translated when shown. Reconcile passes save=False and writes many servers in one bulk update.
        """
        params = params or {}
        unchanged = new_status == self.status and reason == self.status_reason and params == self.status_reason_params
        if unchanged or not self.can_transition(new_status):
            return False
        self.status = new_status
        self.status_reason = str(reason)[:300]
        self.status_reason_params = params
        if save:
            self.save(update_fields=["status", "status_reason", "status_reason_params"])
        return True

    @property
    def reason(self):
        """The status reason in the reader's language."""
        if not self.status_reason:
            return ""
        text = gettext(self.status_reason)
        try:
            return text % self.status_reason_params if self.status_reason_params else text
        except (KeyError, TypeError, ValueError):
            return text

    @property
    def stopped_unexpectedly(self):
        """Proxmox reports it stopped although nobody asked the portal to stop it."""
        return self.status == self.Status.STOPPED and self.should_run

    @property
    def display_colour(self):
        return "red" if self.stopped_unexpectedly else self.status_colour

    @property
    def display_status(self):
        return _("Stopped unexpectedly") if self.stopped_unexpectedly else STATUS_LABELS[self.status]

    @property
    def kind_label(self):
        # Not get_kind_display(): Django rebuilds the choices per call, which long lists feel.
        return KIND_LABELS[self.kind]

    def release(self):
        """Give back VMID, IP addresses and node capacity (after a failed build or a delete)."""
        self.vmid = None
        self.ipv4 = None
        self.ipv6_prefix = None
        self.ipv6 = None
        self.node = None
        self.save(update_fields=["vmid", "ipv4", "ipv6_prefix", "ipv6", "node"])


STATUS_LABELS = dict(Server.Status.choices)
KIND_LABELS = dict(Server.Kind.choices)


def _within(tenant_limit, slots):
    """The plan's slots, never above what the tenant may have per server."""
    return tenant_limit if slots is None else min(tenant_limit, slots)
