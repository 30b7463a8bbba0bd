import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from provisioning.models import Cluster, Image, Node, Server
from tenants.models import Duty, Party, Tenant, TenantQuerySet

MONEY = {"max_digits": 10, "decimal_places": 2}
NOT_NEGATIVE = [MinValueValidator(Decimal("0"))]
NODE_NAME = RegexValidator(
    r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", _("Use lower-case letters, digits and hyphens, as Proxmox node names do.")
)


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
    # A pending order remembers what to build and where, until its node is online.
    node = models.ForeignKey(Node, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders")
    image = models.ForeignKey(Image, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders")
    offer = models.ForeignKey("Offer", null=True, blank=True, on_delete=models.SET_NULL, related_name="orders")
    # The per-core licences the image needs, with the prices of the day: billing charges them by the
    # server's cores, so a resize changes the packs but never the agreed price per pack.
    licences = models.JSONField(_("licences"), default=list, blank=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")

    def __str__(self):
        return f"{self.plan} {self.hostname}"


# The tiers name how much the customer takes part (concept 4.8.3), not how much service they get:
# "gering" means the customer does little and JIKU runs nearly everything.
INVOLVEMENT = {
    "gering": _("Customer involvement low – JIKU runs the operation"),
    "mittel": _("Customer involvement medium – operation shared duty by duty"),
    "hoch": _("Customer involvement high – your IT runs the servers, JIKU the platform"),
}


class ServiceTier(models.Model):
    """A level of managed service ("Leistungsstufe der Mitwirkung"): gering, mittel, hoch."""

    slug = models.SlugField(_("slug"), unique=True)
    name = models.CharField(_("name"), max_length=60)
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    description = models.TextField(_("description"), blank=True)
    response_critical_hours = models.PositiveIntegerField(_("response time, critical (hours)"), default=4)
    response_normal_hours = models.PositiveIntegerField(_("response time, normal (hours)"), default=24)
    customisable = models.BooleanField(
        _("duties set per offer"), default=False, help_text=_("Sales may choose who holds each duty.")
    )
    allows_shared_nodes = models.BooleanField(
        _("allows JIKU's shared nodes"), default=False,
        help_text=_("Small set-ups of this tier may run on JIKU's shared nodes instead of a dedicated VDS."),
    )
    backup_policy = models.JSONField(
        _("default backup policy"), default=dict, blank=True,
        help_text=_('Applied to new servers where JIKU holds backups, e.g. {"schedule": "daily 02:00", '
                    '"keep_daily": 7, "keep_weekly": 4}.'),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = _("service tier")
        verbose_name_plural = _("service tiers")

    def __str__(self):
        return self.name

    @property
    def involvement(self):
        """The tier as customers should read it, wherever it is shown."""
        return INVOLVEMENT.get(self.slug) or _("Customer involvement: %(tier)s") % {"tier": self.name}

    def default_duties(self):
        """Every duty with its default party; duties without a row stay with the customer."""
        rows = {d.duty: d.party for d in self.duties.all()}
        return {duty: rows.get(duty, Party.CUSTOMER) for duty in Duty.values}



class TierDuty(models.Model):
    tier = models.ForeignKey(ServiceTier, on_delete=models.CASCADE, related_name="duties")
    duty = models.CharField(_("duty"), max_length=32, choices=Duty.choices)
    party = models.CharField(_("responsible by default"), max_length=16, choices=Party.choices, default=Party.CUSTOMER)

    class Meta:
        ordering = ["tier", "duty"]
        constraints = [
            models.UniqueConstraint(fields=["tier", "duty"], name="one_row_per_tier_duty"),
        ]
        verbose_name = _("tier duty")
        verbose_name_plural = _("tier duties")

    def __str__(self):
        return f"{self.tier}: {self.get_duty_display()}"


class DutyPrice(models.Model):
    """What JIKU charges for holding a duty, whatever the tier: the same duties cost the same.

    A tier only says who holds each duty by default (and how fast JIKU answers); the managed-service
    price of an offer or contract is the sum over the duties JIKU holds.
    """

    duty = models.CharField(_("duty"), max_length=32, choices=Duty.choices, unique=True)
    per_month = models.DecimalField(_("monthly fee per customer (net, EUR)"), default=0, validators=NOT_NEGATIVE, **MONEY)
    per_server = models.DecimalField(
        _("monthly fee per managed server (net, EUR)"), default=0, validators=NOT_NEGATIVE, **MONEY,
        help_text=_("Charged for every server (not staging copies) while JIKU holds the duty."),
    )

    class Meta:
        ordering = ["duty"]
        constraints = [
            models.CheckConstraint(condition=Q(per_month__gte=0, per_server__gte=0), name="duty_price_not_negative"),
        ]
        verbose_name = _("duty price")
        verbose_name_plural = _("duty prices")

    def __str__(self):
        return self.get_duty_display()


class Licence(models.Model):
    """Software JIKU rents to the customer with the servers, as hosting providers do under
    Microsoft's SPLA: Windows Server per virtual core (with a minimum per server), Remote Desktop
    and SQL Server per user (SAL)."""

    class Metric(models.TextChoices):
        PER_CORE = "core", _("per core pack of a server")
        PER_USER = "user", _("per user")

    code = models.SlugField(_("code"), unique=True)
    name = models.CharField(_("name"), max_length=100)
    metric = models.CharField(_("licensed"), max_length=8, choices=Metric.choices)
    pack_cores = models.PositiveSmallIntegerField(
        _("cores per pack"), default=2, validators=[MinValueValidator(1)], help_text=_("Only for per-core licences.")
    )
    minimum_cores = models.PositiveSmallIntegerField(
        _("minimum cores per server"), default=0, help_text=_("Only for per-core licences: a smaller server pays for this many.")
    )
    price_monthly = models.DecimalField(_("monthly price per pack or user (net, EUR)"), validators=NOT_NEGATIVE, **MONEY)
    # Every server built from an image of this OS family needs the licence (Windows Server for Windows).
    os_family = models.CharField(_("required by the OS family"), max_length=32, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["metric", "name"]
        constraints = [models.CheckConstraint(condition=Q(price_monthly__gte=0), name="licence_price_not_negative")]
        verbose_name = _("licence")
        verbose_name_plural = _("licences")

    def __str__(self):
        return self.name

    def packs(self, cores):
        """How many packs a server with `cores` virtual cores pays for."""
        return packs(cores, pack=self.pack_cores, minimum=self.minimum_cores)

    @property
    def explanation(self):
        """How the licence is counted, in the words the offer uses."""
        if self.metric == self.Metric.PER_CORE:
            return _("%(name)s: rented monthly under Microsoft's SPLA per %(pack)s virtual cores, at least "
                     "%(minimum)s cores per server.") % {"name": self.name, "pack": self.pack_cores,
                                                         "minimum": self.minimum_cores}
        return _("%(name)s: rented monthly per user who works with it (SAL).") % {"name": self.name}


def packs(cores, *, pack, minimum):
    """Core packs a server pays for: all its virtual cores, at least the minimum, in whole packs."""
    return -(-max(int(cores), int(minimum)) // int(pack))


class VdsSize(models.Model):
    """A virtual dedicated server JIKU rents out as a customer's own Proxmox node."""

    name = models.CharField(_("name"), max_length=60)
    cores = models.PositiveIntegerField(_("cores"), validators=[MinValueValidator(1)])
    memory_gb = models.PositiveIntegerField(_("memory (GB)"), validators=[MinValueValidator(1)])
    disk_gb = models.PositiveIntegerField(_("disk (GB)"), validators=[MinValueValidator(1)])
    price_monthly = models.DecimalField(_("monthly price (net, EUR)"), **MONEY)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["price_monthly", "cores"]
        verbose_name = _("VDS size")
        verbose_name_plural = _("VDS sizes")

    def __str__(self):
        return f"{self.name} ({self.cores} / {self.memory_gb} GB / {self.disk_gb} GB)"


class Target(models.TextChoices):
    SAAS = "saas", _("Keep as SaaS")
    CONTAINER = "container", _("Container")
    VM = "vm", _("Virtual machine")
    DROP = "drop", _("Drop")


GUEST_KIND = {Target.CONTAINER: Server.Kind.LXC, Target.VM: Server.Kind.QEMU}


class SuggestionRule(models.Model):
    """Staff-editable: which target a use case gets when a keyword appears in it."""

    class Warning(models.TextChoices):
        NONE = "", _("none")
        DB_MIGRATION = "db_migration", _("Migrate the database (e.g. MS SQL to MySQL) only with the vendor's support")
        TELEPHONY = "telephony", _("Check the telephony integration (TAPI) with the provider")

    position = models.PositiveSmallIntegerField(_("order"), default=0)
    name = models.CharField(_("name"), max_length=100)
    keywords = models.TextField(
        _("keywords"), help_text=_("Comma-separated; the rule applies when one appears in the use case or its current solution.")
    )
    target = models.CharField(_("target"), max_length=16, choices=Target.choices)
    hostname = models.CharField(_("hostname"), max_length=63, blank=True)
    min_cores = models.PositiveIntegerField(_("min. cores"), default=1)
    min_memory_mb = models.PositiveIntegerField(_("min. memory (MiB)"), default=1024)
    min_disk_gb = models.PositiveIntegerField(_("min. disk (GiB)"), default=10)
    warning = models.CharField(_("warning"), max_length=32, choices=Warning.choices, blank=True)
    os_family = models.CharField(
        _("operating system"), max_length=32, blank=True,
        help_text=_("The image family the guest is built from, e.g. windows; empty for the cluster's default image."),
    )
    licences = models.ManyToManyField(Licence, blank=True, related_name="rules", verbose_name=_("licences"))
    explanation = models.TextField(_("why"), blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("suggestion rule")
        verbose_name_plural = _("suggestion rules")

    def __str__(self):
        return self.name

    def keyword_list(self):
        return [k.strip().lower() for k in self.keywords.split(",") if k.strip()]


class Contract(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="contracts")
    tier = models.ForeignKey(ServiceTier, on_delete=models.PROTECT, related_name="contracts")
    offer = models.OneToOneField("Offer", null=True, blank=True, on_delete=models.SET_NULL, related_name="contract")
    duties = models.JSONField(_("responsibilities"), default=dict)
    # The prices agreed when the contract started (tier fees, managed duties, VDS, one-off items),
    # frozen like an order's price: billing reads these, never the catalogue's current prices.
    fees = models.JSONField(_("agreed fees"), default=dict, blank=True, editable=False)
    term_months = models.PositiveSmallIntegerField(_("term (months)"), default=12)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant"], condition=Q(ended_at__isnull=True), name="one_running_contract")
        ]
        verbose_name = _("contract")
        verbose_name_plural = _("contracts")

    def __str__(self):
        return f"{self.tenant}: {self.tier}"


class Offer(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SENT = "sent", _("Sent")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")
        EXPIRED = "expired", _("Expired")

    STATE_COLOURS = {"draft": "grey", "sent": "blue", "accepted": "green", "declined": "red", "expired": "yellow"}

    class Hosting(models.TextChoices):
        VDS = "vds", _("Dedicated VDS")
        SHARED = "shared", _("JIKU's shared nodes")

    class Challenge(models.TextChoices):
        OLD_HARDWARE = "old_hardware", _("Old hardware and access concepts")
        COSTS = "costs", _("High licence and maintenance costs")
        HOME_OFFICE = "home_office", _("Large attack surface through home office")
        NO_IT_STAFF = "no_it_staff", _("No IT staff")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(_("number"), max_length=20, unique=True)
    revision = models.PositiveIntegerField(_("revision"), default=1)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.DRAFT)
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default="de")
    company = models.CharField(_("company"), max_length=120)
    contact_name = models.CharField(_("contact"), max_length=120)
    contact_email = models.EmailField(_("contact e-mail"))
    address = models.TextField(_("postal address"), blank=True, help_text=_("Printed on the offer; becomes the "
                                                                            "customer's billing address."))
    employees = models.PositiveIntegerField(
        _("employees"), default=1, validators=[MinValueValidator(1), MaxValueValidator(10000)]
    )
    systems = models.TextField(_("current systems"), blank=True)
    server_age_years = models.PositiveSmallIntegerField(
        _("age of the server (years)"), null=True, blank=True, validators=[MaxValueValidator(50)]
    )
    challenges = models.JSONField(_("challenges"), default=list, blank=True)
    tier = models.ForeignKey(ServiceTier, on_delete=models.PROTECT, related_name="offers", verbose_name=_("service tier"))
    duties = models.JSONField(_("responsibilities"), default=dict, blank=True)
    hosting = models.CharField(_("hosting"), max_length=8, choices=Hosting.choices, default=Hosting.VDS)
    cluster = models.ForeignKey(
        Cluster, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("cluster")
    )
    node_name = models.CharField(
        _("VDS node name"), max_length=63, blank=True, validators=[NODE_NAME],
        help_text=_("The name the VDS will have in the Proxmox cluster."),
    )
    headroom_percent = models.PositiveSmallIntegerField(
        _("headroom (%)"), default=25, validators=[MaxValueValidator(200)]
    )
    setup_fee = models.DecimalField(_("set-up (net, EUR)"), default=0, **MONEY, validators=NOT_NEGATIVE)
    migration_fee = models.DecimalField(_("migration (net, EUR)"), default=0, **MONEY, validators=NOT_NEGATIVE)
    poc_fee = models.DecimalField(_("proof of concept (net, EUR)"), default=0, **MONEY, validators=NOT_NEGATIVE)
    term_months = models.PositiveSmallIntegerField(
        _("term (months)"), default=24, validators=[MinValueValidator(1), MaxValueValidator(120)]
    )
    valid_until = models.DateField(_("valid until"))
    # An offer for an existing customer names it; otherwise acceptance creates the tenant.
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.SET_NULL, related_name="offers")
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("sell", _("Can configure, print and accept offers"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(setup_fee__gte=0, migration_fee__gte=0, poc_fee__gte=0), name="offer_fees_not_negative"
            ),
            models.CheckConstraint(condition=Q(headroom_percent__lte=200), name="offer_headroom_sane"),
            models.CheckConstraint(condition=Q(term_months__gte=1, term_months__lte=120), name="offer_term_sane"),
            models.CheckConstraint(condition=Q(employees__gte=1), name="offer_has_employees"),
        ]
        verbose_name = _("offer")
        verbose_name_plural = _("offers")

    def __str__(self):
        return f"{self.number} {self.company}"

    def notice_lapsed(self, payload):
        """A mail about this offer still waiting to go (notifications) is no longer true once the
        offer was declined, accepted, expired or revised since it was sent."""
        return self.state != self.State.SENT or self.revision != payload.get("revision")

    @property
    def is_expired(self):
        return self.state == self.State.EXPIRED or (
            self.state in (self.State.DRAFT, self.State.SENT) and self.valid_until < timezone.localdate()
        )

    @property
    def shown_state(self):
        """Expiry is a matter of date; the stored state catches up when someone acts on the offer."""
        return self.State.EXPIRED if self.is_expired else self.State(self.state)

    @property
    def state_colour(self):
        return self.STATE_COLOURS[self.shown_state]

    @property
    def is_editable(self):
        return self.state in (self.State.DRAFT, self.State.SENT) and not self.is_expired

    @property
    def current_revision(self):
        return self.revisions.filter(number=self.revision).first()


class UseCase(models.Model):
    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="use_cases")
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    name = models.CharField(_("use case"), max_length=120)
    current_solution = models.CharField(_("current solution"), max_length=200, blank=True)
    target = models.CharField(_("target"), max_length=16, choices=Target.choices)
    plan = models.ForeignKey(Plan, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("plan"))
    image = models.ForeignKey(
        Image, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("image")
    )
    hostname = models.CharField(_("hostname"), max_length=63, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    # Codes of the per-user licences the use case needs (Remote Desktop for a terminal server, ...).
    licences = models.JSONField(_("licences"), default=list, blank=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.CheckConstraint(condition=~Q(target=""), name="use_case_has_a_target")]
        verbose_name = _("use case")
        verbose_name_plural = _("use cases")

    def __str__(self):
        return self.name

    @property
    def is_guest(self):
        return self.target in GUEST_KIND


class OfferRevision(models.Model):
    """What the offer said at each saved change: the printed number always refers to one of these.

    Rows are never changed (a database trigger refuses it, see migration 0005), and neither is an
    offer's content under the same revision number: a change is always a new revision.
    """

    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField(_("revision"))
    snapshot = models.JSONField(default=dict)
    monthly_net = models.DecimalField(_("monthly (net)"), **MONEY)
    once_net = models.DecimalField(_("one-off (net)"), **MONEY)
    # The priced lines in the offer's language (pricing.Quote.as_data): the print and the PDF of
    # this revision show these, so a later change of the catalogue's prices never alters them.
    quote = models.JSONField(_("priced lines"), default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["offer", "number"], name="one_row_per_offer_revision")]
        verbose_name = _("offer revision")
        verbose_name_plural = _("offer revisions")

    def __str__(self):
        return f"{self.offer.number} r{self.number}"


class OfferAcceptance(models.Model):
    """Who accepted which revision, when, how and from where; with the document they accepted.

    Written once (a database trigger refuses changes): it is the evidence of the contract.
    """

    class Channel(models.TextChoices):
        ONLINE = "online", _("online by the customer")
        PAPER = "paper", _("signed on paper, recorded by JIKU")

    offer = models.OneToOneField(Offer, on_delete=models.PROTECT, related_name="acceptance")
    revision = models.ForeignKey(OfferRevision, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    name = models.CharField(_("name"), max_length=120)
    position = models.CharField(_("position"), max_length=120)
    note = models.TextField(_("note"), blank=True)
    ip_address = models.GenericIPAddressField(_("address"), null=True, blank=True)
    user_agent = models.CharField(_("browser"), max_length=300, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    accepted_at = models.DateTimeField(_("accepted"), default=timezone.now)
    # Exactly what was accepted: the rendered document, and its PDF where WeasyPrint can run.
    html = models.TextField(editable=False)
    pdf = models.BinaryField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(name="") & ~Q(position=""), name="acceptance_names_the_signer")
        ]
        verbose_name = _("offer acceptance")
        verbose_name_plural = _("offer acceptances")

    def __str__(self):
        return f"{self.offer.number} r{self.revision.number}: {self.name}"
