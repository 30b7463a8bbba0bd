"""What is owed: rates for metered extras, invoices and their lines, reminders, payments, runs.

An issued invoice is a document: the database itself refuses to change its figures, its lines or
its number (migration 0002 installs the triggers), whatever door the change comes through.
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenants.models import Tenant, TenantQuerySet

MONEY = {"max_digits": 12, "decimal_places": 2}
UNIT_PRICE = {"max_digits": 12, "decimal_places": 4}


class Rate(models.Model):
    """A monthly net price for a metered extra, valid from a moment on.

    Prices are never edited: a new price is a new row from its date, so every period keeps the
    price that was valid when it began, and last month bills the same today as it did then.
    """

    class Code(models.TextChoices):
        CORE = "core", _("Core beyond the plan")
        MEMORY = "memory_gib", _("GiB of memory beyond the plan")
        DISK = "disk_gib", _("GiB of disk beyond the plan")
        BACKUP = "backup", _("Backup kept beyond the plan's slots")

    code = models.CharField(_("what"), max_length=16, choices=Code.choices)
    amount = models.DecimalField(_("monthly price (net, EUR)"), **UNIT_PRICE)
    valid_from = models.DateTimeField(_("valid from"), default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["code", "valid_from"], name="one_rate_per_code_and_moment"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="rate_not_negative"),
        ]
        verbose_name = _("rate")
        verbose_name_plural = _("rates")

    def __str__(self):
        return f"{self.get_code_display()}: {self.amount} € ({self.valid_from:%Y-%m-%d})"


class NumberSeries(models.Model):
    """The last number given in a series and year; locked while a number is taken, so none is skipped."""

    series = models.CharField(max_length=4)
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["series", "year"], name="one_counter_per_series_and_year")]
        verbose_name = _("number series")
        verbose_name_plural = _("number series")

    def __str__(self):
        return f"{self.series}-{self.year}: {self.last}"


class BillingRun(models.Model):
    """One monthly run: which month, when it ran, what it drafted and what it could not."""

    period = models.DateField(_("month"), unique=True)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    drafted = models.PositiveIntegerField(_("drafted"), default=0)
    issued = models.PositiveIntegerField(_("issued"), default=0)
    problems = models.JSONField(_("problems"), default=list, blank=True)

    class Meta:
        ordering = ["-period"]
        verbose_name = _("billing run")
        verbose_name_plural = _("billing runs")

    def __str__(self):
        return f"{self.period:%Y-%m}"


class InvoiceQuerySet(TenantQuerySet):
    def open(self):
        return self.filter(kind=Invoice.Kind.INVOICE, status=Invoice.Status.ISSUED)


class Invoice(models.Model):
    class Kind(models.TextChoices):
        INVOICE = "invoice", _("Invoice")
        CREDIT_NOTE = "credit_note", _("Credit note")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ISSUED = "issued", _("Issued")
        PAID = "paid", _("Paid")
        CREDITED = "credited", _("Credited")

    STATUS_COLOURS = {"draft": "grey", "issued": "blue", "paid": "green", "credited": "yellow"}
    # The one table of which status may follow which.
    TRANSITIONS = {
        "draft": {"issued"},
        "issued": {"paid", "credited"},
        "paid": {"credited"},
        "credited": set(),
    }
    SERIES = {"invoice": "RE", "credit_note": "RK"}

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="invoices")
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.INVOICE)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    number = models.CharField(_("number"), max_length=20, blank=True)
    # The service period, both days included, as printed.
    period_start = models.DateField(_("service period from"))
    period_end = models.DateField(_("service period to"))
    issue_date = models.DateField(_("issue date"), null=True, blank=True)
    due_date = models.DateField(_("due date"), null=True, blank=True)
    corrects = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="corrections", verbose_name=_("corrects")
    )
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default="de")
    # The customer as it was when the invoice was issued (or drafted, until then).
    buyer_name = models.CharField(_("customer"), max_length=120)
    buyer_address = models.TextField(_("billing address"), blank=True)
    buyer_vat_id = models.CharField(_("customer's VAT ID"), max_length=32, blank=True)
    seller = models.JSONField(_("seller"), default=dict, blank=True)
    net = models.DecimalField(_("net"), default=0, **MONEY)
    vat = models.DecimalField(_("VAT"), default=0, **MONEY)
    gross = models.DecimalField(_("gross"), default=0, **MONEY)
    note = models.TextField(_("note"), blank=True)
    payment_days = models.PositiveSmallIntegerField(_("days to pay"), default=14)
    reminder_days = models.JSONField(_("reminder days after the due date"), default=list, blank=True)
    dunning_level = models.PositiveSmallIntegerField(_("reminder level"), default=0)
    # The tenant was suspended over this invoice: paying it lifts the suspension.
    suspended_tenant = models.BooleanField(_("tenant suspended over it"), default=False)
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    # The issued documents, made once and kept unchanged (GoBD): the ZUGFeRD PDF and its XML.
    pdf = models.BinaryField(null=True, blank=True, editable=False)
    xml = models.BinaryField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    issued_at = models.DateTimeField(_("issued"), null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        ordering = ["-period_start", "-id"]
        constraints = [
            # Two runs at once, or a run resumed after a crash, still make one invoice per tenant and month.
            models.UniqueConstraint(
                fields=["tenant", "period_start"], condition=Q(kind="invoice"), name="one_invoice_per_tenant_and_month"
            ),
            models.UniqueConstraint(fields=["number"], condition=~Q(number=""), name="unique_invoice_number"),
            models.CheckConstraint(
                condition=Q(status="draft", number="") | (~Q(status="draft") & ~Q(number="")),
                name="number_given_at_issue",
            ),
            models.CheckConstraint(
                condition=Q(kind="invoice", corrects__isnull=True) | Q(kind="credit_note", corrects__isnull=False),
                name="credit_note_corrects_an_invoice",
            ),
            models.CheckConstraint(condition=Q(period_end__gte=models.F("period_start")), name="invoice_period_order"),
        ]
        indexes = [models.Index(fields=["status", "due_date"])]
        permissions = [("issue_invoice", _("Can issue invoices, record payments and export bookings"))]
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")

    def __str__(self):
        if self.number:
            return self.number
        draft = _("Draft")
        return f"{draft} {self.tenant} {self.period_start:%Y-%m}"

    @property
    def audit_repr(self):
        return self.number or f"{self.tenant} {self.period_start:%Y-%m}"

    @property
    def status_colour(self):
        return self.STATUS_COLOURS.get(self.status, "grey")

    @property
    def is_overdue(self):
        return self.status == self.Status.ISSUED and self.due_date is not None and self.due_date < timezone.localdate()

    @property
    def is_credit_note(self):
        return self.kind == self.Kind.CREDIT_NOTE

    def can_transition(self, new_status):
        return new_status in self.TRANSITIONS[self.status]

    def transition(self, new_status, **fields):
        """Move to new_status if the table allows it, saving only what changes; returns whether it did."""
        if not self.can_transition(new_status):
            return False
        self.status = new_status
        for name, value in fields.items():
            setattr(self, name, value)
        self.save(update_fields=["status", *fields])
        return True

    def vat_breakdown(self):
        """[(category, rate, net, vat)] over the lines, VAT computed on each rate's sum (EN 16931)."""
        from .pricing import breakdown

        return breakdown(self.lines.all())


class InvoiceLine(models.Model):
    class Code(models.TextChoices):
        SERVER = "server", _("Server")
        MANAGED = "managed", _("Managed servers")
        TIER = "tier", _("Service tier")
        DUTY = "duty", _("Managed duty")
        VDS = "vds", _("Dedicated server")
        ONCE = "once", _("One-off")
        BACKUP = "backup", _("Extra backups")
        LICENCE = "licence", _("Licence")
        CORRECTION = "correction", _("Correction")

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(_("position"))
    code = models.CharField(_("kind"), max_length=16, choices=Code.choices)
    description = models.CharField(_("description"), max_length=300)
    detail = models.CharField(_("detail"), max_length=300, blank=True)
    # No foreign key: a line outlives whatever it was for.
    server_public_id = models.UUIDField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    quantity = models.DecimalField(_("quantity"), max_digits=14, decimal_places=4)
    unit = models.CharField(_("unit"), max_length=8, default="MON")  # UN/ECE Rec. 20: MON month, C62 one
    unit_price = models.DecimalField(_("unit price (net)"), **UNIT_PRICE)
    net = models.DecimalField(_("net"), **MONEY)
    vat_rate = models.DecimalField(_("VAT rate (%)"), max_digits=5, decimal_places=2, default=Decimal("19.00"))
    vat_category = models.CharField(_("VAT category"), max_length=2, default="S")

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [models.UniqueConstraint(fields=["invoice", "position"], name="one_line_per_position")]
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")

    def __str__(self):
        return self.description


class Reminder(models.Model):
    """A reminder level reached by an overdue invoice ("Zahlungserinnerung", "Mahnung")."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="reminders")
    level = models.PositiveSmallIntegerField(_("level"))
    sent_at = models.DateTimeField(_("sent"), default=timezone.now)
    pay_by = models.DateField(_("pay by"))

    class Meta:
        ordering = ["invoice", "level"]
        constraints = [models.UniqueConstraint(fields=["invoice", "level"], name="one_reminder_per_level")]
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")

    def __str__(self):
        return f"{self.invoice} #{self.level}"


class Payment(models.Model):
    class Source(models.TextChoices):
        MANUAL = "manual", _("Recorded by staff")
        STATEMENT = "statement", _("Bank statement")

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(_("amount"), **MONEY)
    paid_on = models.DateField(_("paid on"))
    reference = models.CharField(_("reference"), max_length=200, blank=True)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.MANUAL)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-paid_on", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="payment_positive")]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")

    def __str__(self):
        return f"{self.invoice}: {self.amount}"
