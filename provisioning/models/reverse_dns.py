"""Reverse DNS names customers set for their servers' addresses."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from .servers import Server


class PtrRecord(models.Model):
    """A customer's reverse DNS name for one of their server's addresses.

    It is published in PowerDNS only once the name resolves forward to the address; until then it
    waits as pending and a periodic check publishes it when it does.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for the forward record")
        ACTIVE = "active", _("Active")

    STATUS_COLOURS = {"pending": "yellow", "active": "green"}

    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="ptr_records")
    address = models.GenericIPAddressField(_("address"))
    name = models.CharField(_("name"), max_length=253)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    checked_at = models.DateTimeField(_("last checked"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["address"]
        verbose_name = _("reverse DNS record")
        verbose_name_plural = _("reverse DNS records")
        constraints = [models.UniqueConstraint(fields=["address"], name="one_ptr_per_address")]

    def __str__(self):
        return f"{self.address} → {self.name}"

    @property
    def status_colour(self):
        return self.STATUS_COLOURS.get(self.status, "grey")
