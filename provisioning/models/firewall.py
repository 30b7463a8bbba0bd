"""Firewall (issue 21): per server rules, the tenant's address sets and security groups."""

import uuid

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from provisioning.netspec import normalize_address, parse_addresses, parse_ports, ports_text
from tenants.models import Tenant, TenantQuerySet

from .servers import Server

# The portal keeps the order and the truth; the firewall operation writes it to Proxmox.
FIREWALL_NAME = RegexValidator(
    r"^[A-Za-z][A-Za-z0-9_-]{1,29}$",
    _("Use 2 to 30 letters, digits, - or _, starting with a letter."),
)


class Verdict(models.TextChoices):
    ACCEPT = "ACCEPT", _("Allow")
    DROP = "DROP", pgettext_lazy("firewall", "Drop")
    REJECT = "REJECT", _("Reject")


class AddressSet(models.Model):
    """A tenant's named list of addresses and networks (an ipset in Proxmox), used by many rules."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="address_sets")
    name = models.CharField(_("name"), max_length=30, validators=[FIREWALL_NAME])
    description = models.CharField(_("description"), max_length=200, blank=True)
    entries = models.JSONField(_("addresses"), default=list, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="unique_address_set_name")]
        verbose_name = _("address set")
        verbose_name_plural = _("address sets")

    def __str__(self):
        return self.name

    @property
    def pve_name(self):
        return f"as-{self.public_id.hex[:12]}"

    def clean(self):
        if not self.entries:
            raise ValidationError({"entries": _("Enter at least one address.")})
        try:
            # Proxmox's IP sets hold addresses and networks only; ranges belong into a rule.
            self.entries = [normalize_address(e) for e in parse_addresses(",".join(self.entries), ranges=False)]
        except ValidationError as exc:
            raise ValidationError({"entries": exc.messages}) from None


class SecurityGroup(models.Model):
    """A tenant's named rule set (a cluster security group in Proxmox) applied to many servers."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="security_groups")
    name = models.CharField(_("name"), max_length=30, validators=[FIREWALL_NAME])
    description = models.CharField(_("description"), max_length=200, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="unique_security_group_name")]
        verbose_name = _("security group")
        verbose_name_plural = _("security groups")

    def __str__(self):
        return self.name

    @property
    def pve_name(self):
        # Proxmox allows 18 characters for a group's name; the id keeps it unique cluster-wide.
        return f"sg-{self.public_id.hex[:12]}"


class Firewall(models.Model):
    """One server's firewall: on or off, its default policies, and what the portal wrote last."""

    server = models.OneToOneField(Server, on_delete=models.CASCADE, related_name="firewall")
    enabled = models.BooleanField(_("firewall on"), default=False)
    policy_in = models.CharField(_("incoming by default"), max_length=8, choices=Verdict.choices, default=Verdict.DROP)
    policy_out = models.CharField(_("outgoing by default"), max_length=8, choices=Verdict.choices, default=Verdict.ACCEPT)
    # The rule list as last written to Proxmox; reconcile compares Proxmox with it (drift).
    applied_rules = models.JSONField(default=list, blank=True, editable=False)
    applied_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("firewall")
        verbose_name_plural = _("firewalls")

    def __str__(self):
        return f"{self.server}"


class FirewallRule(models.Model):
    """One rule, in a server's firewall or in a security group; `position` is the portal's order."""

    class Direction(models.TextChoices):
        IN = "in", _("Incoming")
        OUT = "out", _("Outgoing")

    class Protocol(models.TextChoices):
        ANY = "", _("Any")
        TCP = "tcp", "TCP"
        UDP = "udp", "UDP"
        ICMP = "icmp", "ICMP"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    firewall = models.ForeignKey(Firewall, null=True, blank=True, on_delete=models.CASCADE, related_name="rules")
    security_group = models.ForeignKey(
        SecurityGroup, null=True, blank=True, on_delete=models.CASCADE, related_name="rules"
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    # A rule in a server's firewall may apply a whole security group at its place in the order.
    group = models.ForeignKey(
        SecurityGroup, null=True, blank=True, on_delete=models.PROTECT, related_name="applied_in",
        verbose_name=_("security group"),
    )
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices, default=Direction.IN)
    action = models.CharField(_("action"), max_length=8, choices=Verdict.choices, default=Verdict.ACCEPT)
    protocol = models.CharField(_("protocol"), max_length=8, choices=Protocol.choices, blank=True, default="")
    dest_port = models.CharField(_("destination port(s)"), max_length=120, blank=True)
    source = models.CharField(_("source"), max_length=400, blank=True)
    source_set = models.ForeignKey(
        AddressSet, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("source set")
    )
    dest = models.CharField(_("destination"), max_length=400, blank=True)
    dest_set = models.ForeignKey(
        AddressSet, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        verbose_name=_("destination set"),
    )
    comment = models.CharField(_("comment"), max_length=100, blank=True)
    enabled = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("firewall rule")
        verbose_name_plural = _("firewall rules")
        constraints = [
            models.CheckConstraint(
                condition=Q(firewall__isnull=False, security_group__isnull=True)
                | Q(firewall__isnull=True, security_group__isnull=False),
                name="firewall_rule_one_owner",
            ),
            # Proxmox allows no group inside a group.
            models.CheckConstraint(condition=Q(group__isnull=True) | Q(firewall__isnull=False),
                                   name="firewall_rule_group_on_servers"),
            models.CheckConstraint(condition=Q(source="") | Q(source_set__isnull=True), name="firewall_rule_one_source"),
            models.CheckConstraint(condition=Q(dest="") | Q(dest_set__isnull=True), name="firewall_rule_one_dest"),
        ]

    def __str__(self):
        if self.group_id:
            return f"{self.position}: {self.group}"
        return f"{self.position}: {self.direction} {self.action} {self.protocol} {self.dest_port}".strip()

    def clean(self):
        errors = {}
        if self.group_id is not None:
            if self.security_group_id is not None:
                errors["group"] = _("A security group cannot contain another security group.")
            if errors:
                raise ValidationError(errors)
            return
        if self.dest_port:
            if self.protocol not in (self.Protocol.TCP, self.Protocol.UDP):
                errors["protocol"] = _("Ports need the protocol TCP or UDP.")
            try:
                self.dest_port = ports_text(parse_ports(self.dest_port))
            except ValidationError as exc:
                errors["dest_port"] = exc.messages
        for field, set_field in (("source", "source_set"), ("dest", "dest_set")):
            value = getattr(self, field).strip()
            if value and getattr(self, f"{set_field}_id") is not None:
                errors[field] = _("Enter addresses or choose an address set, not both.")
            elif value:
                try:
                    setattr(self, field, ",".join(normalize_address(p) for p in parse_addresses(value)))
                except ValidationError as exc:
                    errors[field] = exc.messages
        if errors:
            raise ValidationError(errors)
