"""What a server can go back to: its snapshots, its backups and the schedule that takes them."""

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tenants.models import Tenant, TenantQuerySet

from .infrastructure import Cluster
from .servers import Server


class Snapshot(models.Model):
    """Snapshots the portal made or saw; Proxmox stays the authority, pages read these rows."""

    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="snapshots")
    name = models.CharField(_("name"), max_length=40)
    description = models.CharField(_("description"), max_length=200, blank=True)
    include_ram = models.BooleanField(_("include RAM"), default=False)
    parent = models.CharField(_("parent"), max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    ready = models.BooleanField(default=False)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["server", "name"], name="unique_snapshot_name")]
        verbose_name = _("snapshot")
        verbose_name_plural = _("snapshots")

    def __str__(self):
        return self.name


class BackupQuerySet(TenantQuerySet):
    def kept(self):
        return self.filter(deleted_at__isnull=True)


class Backup(models.Model):
    """A vzdump archive. It outlives its server for the tenant's retention period."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="backups")
    server = models.ForeignKey(Server, null=True, blank=True, on_delete=models.SET_NULL, related_name="backups")
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="backups")
    node = models.CharField(_("node"), max_length=64)
    storage = models.CharField(_("storage"), max_length=64)
    volid = models.CharField(_("volume"), max_length=255)
    kind = models.CharField(_("kind"), max_length=8, choices=Server.Kind.choices)
    hostname = models.CharField(_("hostname"), max_length=63)
    cores = models.PositiveIntegerField(default=1)
    memory_mb = models.PositiveIntegerField(default=512)
    disk_gb = models.PositiveIntegerField(default=1)
    size_bytes = models.BigIntegerField(_("size"), default=0)
    notes = models.CharField(_("notes"), max_length=200, blank=True)
    protected = models.BooleanField(_("protected"), default=False)
    scheduled = models.BooleanField(_("from schedule"), default=False)
    created_at = models.DateTimeField(_("created"))
    expires_at = models.DateTimeField(_("kept until"), null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = BackupQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["cluster", "volid"], name="unique_backup_volume")]
        verbose_name = _("backup")
        verbose_name_plural = _("backups")

    def __str__(self):
        return f"{self.hostname} {self.created_at:%Y-%m-%d %H:%M}"


class BackupPolicy(models.Model):
    class Frequency(models.TextChoices):
        DAILY = "daily", _("Daily")
        WEEKLY = "weekly", _("Weekly")

    KEEP_MAX = 100

    server = models.OneToOneField(Server, on_delete=models.CASCADE, related_name="backup_policy")
    enabled = models.BooleanField(_("enabled"), default=True)
    frequency = models.CharField(_("frequency"), max_length=8, choices=Frequency.choices, default=Frequency.DAILY)
    weekday = models.PositiveSmallIntegerField(_("weekday"), default=0, help_text=_("0 = Monday"))
    time = models.TimeField(_("time"), default="02:00")
    keep_last = models.PositiveSmallIntegerField(_("keep last"), default=3)
    keep_daily = models.PositiveSmallIntegerField(_("keep daily"), default=7)
    keep_weekly = models.PositiveSmallIntegerField(_("keep weekly"), default=4)
    keep_monthly = models.PositiveSmallIntegerField(_("keep monthly"), default=0)
    managed_by_jiku = models.BooleanField(_("managed by JIKU"), default=False)
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_run_at = models.DateTimeField(_("last run"), null=True, blank=True)
    last_status = models.CharField(_("last result"), max_length=16, blank=True)
    last_error = models.TextField(_("last error"), blank=True)

    class Meta:
        verbose_name = _("backup policy")
        verbose_name_plural = _("backup policies")
        # The action checks these with field messages; the database holds the line for every other door.
        constraints = [
            models.CheckConstraint(
                condition=Q(keep_last__lte=100, keep_daily__lte=100, keep_weekly__lte=100, keep_monthly__lte=100),
                name="backup_policy_keep_at_most_100",
            ),
            models.CheckConstraint(condition=Q(weekday__lte=6), name="backup_policy_weekday"),
            models.CheckConstraint(condition=Q(frequency__in=["daily", "weekly"]), name="backup_policy_frequency"),
        ]

    def __str__(self):
        return f"{self.server}: {self.get_frequency_display()} {self.time:%H:%M}"
