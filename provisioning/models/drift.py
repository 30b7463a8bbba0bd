"""Drift: what reconcile found that the portal and Proxmox disagree on."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .infrastructure import Cluster
from .servers import Server


class Drift(models.Model):
    """Something reconcile found that the portal and Proxmox disagree on; staff decide."""

    class Kind(models.TextChoices):
        MISSING = "missing", _("Server missing in Proxmox")
        UNKNOWN = "unknown", _("Unknown guest in the portal's VMID range")
        FIREWALL = "firewall", _("Firewall rules changed outside the portal")

    class Resolution(models.TextChoices):
        GONE = "gone", _("Resolved by itself")
        ADOPTED = "adopted", _("Adopted into a tenant")
        DELETED = "deleted", _("Marked deleted")
        # Ignored drift stays resolved: reconcile does not raise it again.
        IGNORED = "ignored", _("Ignored")

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="drifts")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    vmid = models.PositiveIntegerField(_("VMID"))
    node_name = models.CharField(_("node"), max_length=64, blank=True)
    guest_name = models.CharField(_("name"), max_length=100, blank=True)
    server = models.ForeignKey(Server, null=True, blank=True, on_delete=models.CASCADE, related_name="drifts")
    # What reconcile saw of an unknown guest (type, cpus, memory, disk, status): prefills adoption.
    details = models.JSONField(_("details"), default=dict, blank=True)
    resolution = models.CharField(_("resolution"), max_length=16, choices=Resolution.choices, blank=True)
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster", "kind", "vmid"], condition=Q(resolved_at__isnull=True), name="one_open_drift"
            )
        ]
        verbose_name = _("drift")
        verbose_name_plural = _("drift")

    def __str__(self):
        return f"{self.get_kind_display()}: {self.vmid}"
