import uuid
import zoneinfo
from functools import cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .audit_labels import describe


@cache
def time_zones():
    """The IANA zones a tenant may pick, by name ("Europe/Berlin"); not the legacy aliases."""
    return sorted(z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))


def validate_time_zone(value):
    if value not in time_zones():
        raise ValidationError(_("Choose a time zone from the list, e.g. Europe/Berlin."), code="time_zone")


class TenantQuerySet(models.QuerySet):
    def for_tenant(self, tenant):
        """The one way customer-facing code reaches tenant-owned rows."""
        return self.filter(tenant=tenant)


class Tenant(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    billing_address = models.TextField(_("billing address"), blank=True)
    vat_id = models.CharField(_("VAT ID"), max_length=32, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    require_mfa = models.BooleanField(
        _("require two-factor authentication"),
        default=False,
        help_text=_("Members must set up two-factor authentication before they can work in this tenant."),
    )
    # The pages, the mails and the backup schedule tell times in it.
    time_zone = models.CharField(_("time zone"), max_length=64, default="Europe/Berlin", validators=[validate_time_zone])
    max_cores = models.PositiveIntegerField(_("max. cores"), default=16)
    max_memory_mb = models.PositiveIntegerField(_("max. memory (MiB)"), default=32768)
    max_disk_gb = models.PositiveIntegerField(_("max. disk (GiB)"), default=500)
    max_servers = models.PositiveIntegerField(_("max. servers"), default=10)
    max_snapshots_per_server = models.PositiveIntegerField(_("max. snapshots per server"), default=5)
    max_backups_per_server = models.PositiveIntegerField(_("max. backups per server"), default=7)
    # The response times JIKU promises, written by the contract (services sits above tenants).
    # Without a contract the settings' SERVICE_REQUEST_RESPONSE_HOURS apply.
    response_critical_hours = models.PositiveIntegerField(_("response time, critical (hours)"), null=True, blank=True)
    response_normal_hours = models.PositiveIntegerField(_("response time, normal (hours)"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")
        permissions = [
            ("view_billing", _("Can see billing address and VAT ID")),
            ("suspend_tenant", _("Can suspend and unsuspend tenants")),
        ]

    def __str__(self):
        return self.name

    @property
    def is_active(self):
        return self.status == self.Status.ACTIVE

    def responsible_party(self, duty):
        """Who holds a duty: the tenant's own row, else the customer (self-service by default)."""
        row = next((r for r in self.responsibilities.all() if r.duty == duty), None)
        return row.party if row else Party.CUSTOMER

    def managed_by_jiku(self, duty):
        return self.responsible_party(duty) == Party.JIKU

    def audit(self, **fields):
        """An entry in this tenant's audit trail, for the app that may not import tenants
        (notifications, DESIGN.md 2): it reaches the trail through the tenant it was handed."""
        from .audit import audit_record

        return audit_record(tenant=self, **fields)


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    MEMBER = "member", _("Member")
    VIEWER = "viewer", _("Viewer")


# What each role may do. A viewer only looks; members run servers; admins also manage the
# team; owners also the tenant itself (billing data, two-factor policy, ownership).
ROLE_PERMISSIONS = {
    Role.VIEWER: {"view"},
    Role.MEMBER: {"view", "operate"},
    Role.ADMIN: {"view", "operate", "manage_team", "audit"},
    Role.OWNER: {"view", "operate", "manage_team", "audit", "manage_tenant"},
}
ROLE_RANK = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}


class Membership(models.Model):
    # Team pages address members by this, never by the sequential primary key.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["tenant__name", "user__email"]
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="one_membership_per_user")]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self):
        return f"{self.user} @ {self.tenant} ({self.role})"

    def can(self, permission):
        return permission in ROLE_PERMISSIONS[Role(self.role)]


def _invitation_expiry():
    return timezone.now() + timezone.timedelta(days=7)


class Invitation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("e-mail"))
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.MEMBER)
    token = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(default=_invitation_expiry)
    accepted_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "email"], condition=Q(accepted_at__isnull=True), name="one_open_invitation_per_email"
            )
        ]
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")

    def __str__(self):
        return f"{self.email} -> {self.tenant}"

    @property
    def is_expired(self):
        return self.expires_at <= timezone.now()

    @property
    def is_open(self):
        return self.accepted_at is None and not self.is_expired


class SSHKey(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="ssh_keys")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    name = models.CharField(_("name"), max_length=100)
    key_type = models.CharField(_("type"), max_length=64)
    public_key = models.TextField(_("public key"))
    fingerprint = models.CharField(_("fingerprint"), max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "fingerprint"], name="unique_key_per_tenant")]
        verbose_name = _("SSH key")
        verbose_name_plural = _("SSH keys")

    def __str__(self):
        return f"{self.name} ({self.fingerprint})"


class Duty(models.TextChoices):
    INFRASTRUCTURE = "infrastructure", _("Infrastructure")
    PROVISIONING = "provisioning", _("Server provisioning")
    UPDATES = "updates", _("Updates and upgrades")
    BACKUPS = "backups", _("Backups")
    SNAPSHOTS = "snapshots", _("Snapshots")
    ROLLBACKS = "rollbacks", _("Rollbacks")
    MONITORING = "monitoring", _("Monitoring")
    APP_USERS = "app_users", _("Application users")
    TELEPHONY = "telephony", _("Telephony setup")
    APP_UPDATES = "app_updates", _("Application updates")


class Party(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    JIKU = "jiku", _("JIKU")


class Responsibility(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="responsibilities")
    duty = models.CharField(_("duty"), max_length=32, choices=Duty.choices)
    party = models.CharField(_("responsible"), max_length=16, choices=Party.choices, default=Party.CUSTOMER)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "duty"], name="one_party_per_duty")]
        verbose_name = _("responsibility")
        verbose_name_plural = _("responsibilities")

    def __str__(self):
        return f"{self.tenant}: {self.get_duty_display()} -> {self.get_party_display()}"


class AuditEvent(models.Model):
    class Via(models.TextChoices):
        WEB = "web", _("Web")
        API = "api", _("API")
        ADMIN = "admin", _("Admin")
        SYSTEM = "system", _("System")

    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_label = models.CharField(_("actor"), max_length=200, blank=True)
    action = models.CharField(_("action"), max_length=64)
    object_type = models.CharField(_("object type"), max_length=64, blank=True)
    object_id = models.CharField(_("object ID"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    via = models.CharField(_("via"), max_length=8, choices=Via.choices, default=Via.WEB)
    details = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action} {self.object_repr}"

    @property
    def description(self):
        return describe(self.action, self.object_repr)


class ApiTokenQuerySet(TenantQuerySet):
    def usable(self):
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


class ApiToken(models.Model):
    """A personal access token for the REST API: one user, one tenant, a role no higher than theirs.

    Only a SHA-256 hash of the token is stored; `prefix` (the non-secret start of the token) finds
    the row, so a lookup never compares secrets in the database.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_tokens")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.MEMBER)
    prefix = models.CharField(_("prefix"), max_length=32, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "user", "name"], condition=Q(revoked_at__isnull=True), name="one_live_token_name"
            )
        ]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_expired(self):
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_usable(self):
        return self.revoked_at is None and not self.is_expired

    def effective_role(self, membership_role):
        """The lower of the token's role and the user's current role in the tenant."""
        return min(Role(self.role), Role(membership_role), key=lambda role: ROLE_RANK[role])


class ServiceRequest(models.Model):
    """A customer asks JIKU for something (work on a duty JIKU holds, more quota, a question);
    staff answer within the response time the contract promises for its priority."""

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")

    class Priority(models.TextChoices):
        NORMAL = "normal", _("Normal")
        CRITICAL = "critical", _("Critical: production is down or at risk")

    STATE_COLOURS = {"open": "yellow", "in_progress": "blue", "done": "green"}

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="service_requests")
    # Blank: not about a duty (a question, more quota, billing); every tenant may ask those.
    duty = models.CharField(_("duty"), max_length=32, choices=Duty.choices, blank=True)
    priority = models.CharField(_("priority"), max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    respond_by = models.DateTimeField(_("answer due"), null=True, blank=True)
    answered_at = models.DateTimeField(_("first answered"), null=True, blank=True)
    # The server it concerns, by public id and name: tenants sits below provisioning (DESIGN.md 2).
    server_public_id = models.UUIDField(_("server"), null=True, blank=True)
    server_name = models.CharField(_("server"), max_length=63, blank=True)
    subject = models.CharField(_("subject"), max_length=200)
    message = models.TextField(_("message"), blank=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.OPEN)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_service_requests",
        verbose_name=_("assignee"),
    )
    answer = models.TextField(_("answer"), blank=True, help_text=_("Visible to the customer."))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    done_at = models.DateTimeField(_("done"), null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "created_at"])]
        verbose_name = _("service request")
        verbose_name_plural = _("service requests")

    def __str__(self):
        return f"{self.tenant}: {self.subject}"

    @property
    def state_colour(self):
        return self.STATE_COLOURS.get(self.state, "grey")

    @property
    def overdue(self):
        """Still unanswered after the promised response time."""
        return self.answered_at is None and self.respond_by is not None and self.respond_by < timezone.now()
