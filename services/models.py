import uuid

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from provisioning.models import Server
from tenants.models import Tenant, TenantQuerySet


class Plan(models.Model):
    """What a customer orders: a size with a monthly net price. Provisioning never sees prices."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=60)
    slug = models.SlugField(_("slug"), unique=True)
    kind = models.CharField(_("kind"), max_length=8, choices=Server.Kind.choices)
    cores = models.PositiveIntegerField(_("cores"), validators=[MinValueValidator(1)])
    memory_mb = models.PositiveIntegerField(_("memory (MiB)"), validators=[MinValueValidator(256)])
    disk_gb = models.PositiveIntegerField(_("disk (GiB)"), validators=[MinValueValidator(1)])
    backup_slots = models.PositiveIntegerField(_("backup slots"), default=3)
    snapshot_slots = models.PositiveIntegerField(_("snapshot slots"), default=3)
    price_monthly = models.DecimalField(_("monthly price (net, EUR)"), max_digits=10, decimal_places=2)
    active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["kind", "sort_order", "price_monthly"]
        verbose_name = _("plan")
        verbose_name_plural = _("plans")

    def __str__(self):
        return self.name


class Order(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for its node")
        PLACED = "placed", _("Placed")
        FAILED = "failed", _("Failed")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="orders")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="orders")
    server = models.OneToOneField(Server, null=True, blank=True, on_delete=models.SET_NULL, related_name="order")
    hostname = models.CharField(_("hostname"), max_length=63)
    price_monthly = models.DecimalField(_("monthly price (net, EUR)"), max_digits=10, decimal_places=2)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.PLACED)
    error = models.TextField(_("error"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")

    def __str__(self):
        return f"{self.plan} {self.hostname}"
