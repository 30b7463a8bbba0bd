import uuid

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from . import crypto
from .kinds import KINDS


class TenantScoped(models.QuerySet):
    def for_tenant(self, tenant):
        """The one way customer-facing code reaches a tenant's rows (as tenants.models has it)."""
        return self.filter(tenant=tenant)


class Event(models.Model):
    """Something that happened, recorded in the same transaction as the change it reports.

    The payload holds what the mail says (names, paths, untranslated reasons), so a mail sent
    later still tells what was true then, in each reader's own language.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Empty for platform events that belong to no customer (staff only).
    tenant = models.ForeignKey(
        "tenants.Tenant", null=True, blank=True, on_delete=models.CASCADE, related_name="notification_events"
    )
    # A key of kinds.KINDS; no choices in the database, so a new kind needs no migration.
    kind = models.CharField(_("kind"), max_length=40)
    subject_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.SET_NULL)
    subject_id = models.CharField(max_length=64, blank=True)
    subject = GenericForeignKey("subject_type", "subject_id")
    payload = models.JSONField(default=dict, blank=True)
    # Set for news that must be told once however often it is seen (a stalled operation, found by
    # every sweep until it moves): a second event with the same key is not recorded.
    key = models.CharField(max_length=200, blank=True, editable=False)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    # Set once its deliveries exist; the sweep fans out events whose task was lost.
    fanned_out_at = models.DateTimeField(null=True, blank=True)

    objects = TenantScoped.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification event")
        verbose_name_plural = _("notification events")
        indexes = [models.Index(fields=["fanned_out_at", "created_at"])]
        constraints = [models.UniqueConstraint(fields=["key"], condition=~Q(key=""), name="one_event_per_key")]

    def __str__(self):
        # Not inside the f-string: makemessages does not find a msgid there.
        owner = self.tenant or _("platform")
        return f"{self.kind_label} ({owner})"

    @property
    def kind_label(self):
        kind = KINDS.get(self.kind)
        return kind.label if kind else self.kind


class Webhook(models.Model):
    """A tenant's receiver: its events are POSTed there as JSON, signed with the secret."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(_("URL"), max_length=500)
    # Encrypted (crypto.py): the portal signs with it, the tenant saw it once, when it was made.
    secret_encrypted = models.TextField(editable=False)
    active = models.BooleanField(_("active"), default=True)
    # Set when a delivery gave up, cleared by the next one that arrives.
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = TenantScoped.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "url"], name="one_webhook_per_tenant_and_url")]
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")

    def __str__(self):
        return self.url

    @property
    def secret(self):
        return crypto.decrypt(self.secret_encrypted)


class Delivery(models.Model):
    """One event to one recipient on one channel; the unique constraints make it happen once."""

    class Channel(models.TextChoices):
        EMAIL = "email", _("E-mail")
        WEBHOOK = "webhook", _("Webhook")

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        # Not sent: what it told was no longer true when its turn came (a revoked invitation).
        LAPSED = "lapsed", _("Withdrawn")

    STATE_COLOURS = {"pending": "yellow", "sending": "blue", "sent": "green", "failed": "red", "lapsed": "grey"}

    event = models.ForeignKey(Event, verbose_name=_("event"), on_delete=models.CASCADE, related_name="deliveries")
    # At most one of them: a person by e-mail, or a tenant's webhook; neither for an address alone.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+")
    webhook = models.ForeignKey(Webhook, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices, default=Channel.EMAIL)
    address = models.CharField(_("address"), max_length=500)
    language = models.CharField(_("language"), max_length=8)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [
            models.UniqueConstraint(fields=["event", "user", "channel"], condition=Q(user__isnull=False),
                                    name="one_delivery_per_recipient_and_channel"),
            models.UniqueConstraint(fields=["event", "webhook"], condition=Q(webhook__isnull=False),
                                    name="one_delivery_per_webhook"),
            # Someone without an account (an invitee) is reached by the address alone.
            models.UniqueConstraint(fields=["event", "address", "channel"],
                                    condition=Q(user__isnull=True, webhook__isnull=True),
                                    name="one_delivery_per_address_and_channel"),
            models.CheckConstraint(condition=Q(user__isnull=True) | Q(webhook__isnull=True),
                                   name="delivery_to_a_user_an_address_or_a_webhook"),
            models.CheckConstraint(condition=~Q(state="sent") | Q(sent_at__isnull=False), name="sent_delivery_has_a_time"),
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self):
        return f"{self.event} -> {self.address} ({self.get_state_display()})"

    @property
    def state_colour(self):
        return self.STATE_COLOURS.get(self.state, "grey")


class Preference(models.Model):
    """A user's choice for one kind; without a row the role's default applies (kinds.py)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences")
    kind = models.CharField(_("kind"), max_length=40)
    email = models.BooleanField(_("by e-mail"), default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="one_preference_per_user_and_kind")]
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")

    def __str__(self):
        return f"{self.user}: {self.kind} {'on' if self.email else 'off'}"


class MailSettings(models.Model):
    """The language a user reads mails in: a worker has no browser to ask."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mail_settings")
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE)

    class Meta:
        verbose_name = _("mail settings")
        verbose_name_plural = _("mail settings")

    def __str__(self):
        return f"{self.user}: {self.language}"
