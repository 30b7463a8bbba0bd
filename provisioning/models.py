import ipaddress
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from tenants.models import Tenant, TenantQuerySet

from .netspec import normalize_address, parse_addresses, parse_ports, ports_text
from .secrets import decrypt, encrypt


class Cluster(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    api_url = models.CharField(
        _("API address"), max_length=200, help_text=_("host:port of a Proxmox VE node, e.g. pve1.example.net:8006")
    )
    token_id = models.CharField(_("API token ID"), max_length=200, help_text=_("user@realm!tokenname"))
    # Encrypted at rest with FIELD_ENCRYPTION_KEY; never rendered or logged.
    token_secret_encrypted = models.TextField(_("API token secret (encrypted)"), blank=True, editable=False)
    verify_tls = models.BooleanField(_("verify TLS"), default=True)
    ca_cert = models.TextField(
        _("CA certificate (PEM)"), blank=True, help_text=_("The cluster's CA; empty means the system CAs.")
    )
    vmid_min = models.PositiveIntegerField(_("first VMID"), default=100)
    vmid_max = models.PositiveIntegerField(_("last VMID"), default=99999)
    storage = models.CharField(_("disk storage"), max_length=64, default="local-lvm")
    backup_storage = models.CharField(
        _("backup storage"), max_length=64, default="local",
        help_text=_("Shared storage lets a backup be restored on any node."),
    )
    template_storage = models.CharField(_("template storage"), max_length=64, default="local")
    bridge = models.CharField(_("network bridge"), max_length=32, default="vmbr0")
    # Learnt by reconcile from the disk storage's type: LVM-thin, ZFS, Ceph and qcow2 can snapshot.
    snapshot_capable = models.BooleanField(_("storage can take snapshots"), default=True)
    # Learnt by reconcile: storages every node reads. A backup elsewhere restores only on its node.
    shared_storages = models.JSONField(_("shared storages"), default=list, blank=True)
    cpu_overcommit = models.DecimalField(_("CPU overcommit ratio"), max_digits=4, decimal_places=2, default=4)
    memory_overcommit = models.DecimalField(_("memory overcommit ratio"), max_digits=4, decimal_places=2, default=1)
    active = models.BooleanField(_("active"), default=True)
    last_reconciled_at = models.DateTimeField(_("last reconciled"), null=True, blank=True)
    reconcile_error = models.TextField(_("last reconcile error"), blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("cluster")
        verbose_name_plural = _("clusters")
        # Operators run a cluster (reconcile, test the connection) without change_cluster, which
        # covers its API address, token and CA.
        permissions = [("operate_cluster", _("Can operate a cluster (reconcile, test connection)"))]

    def __str__(self):
        return self.name

    @property
    def token_secret(self):
        return decrypt(self.token_secret_encrypted)

    @token_secret.setter
    def token_secret(self, value):
        self.token_secret_encrypted = encrypt(value)


class Node(models.Model):
    class Kind(models.TextChoices):
        BARE_METAL = "bare_metal", _("Bare metal")
        VDS = "vds", _("VDS")

    class Provider(models.TextChoices):
        JIKU = "jiku", _("JIKU")
        HOSTER = "hoster", _("Hosting provider")
        CUSTOMER = "customer", _("Customer's own hardware")

    class Status(models.TextChoices):
        ONLINE = "online", _("Online")
        OFFLINE = "offline", _("Offline")
        UNKNOWN = "unknown", _("Unknown")
        AWAITING = "awaiting", _("Awaiting installation")

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="nodes")
    name = models.CharField(_("name"), max_length=64)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.BARE_METAL)
    provider = models.CharField(_("provider"), max_length=16, choices=Provider.choices, default=Provider.JIKU)
    provider_name = models.CharField(_("provider name"), max_length=100, blank=True)
    nested = models.BooleanField(_("nested virtualisation"), default=False)
    dedicated_tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.SET_NULL, related_name="dedicated_nodes"
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.UNKNOWN)
    maintenance = models.BooleanField(_("maintenance"), default=False)
    draining = models.BooleanField(_("draining"), default=False)
    max_cores = models.PositiveIntegerField(_("cores"), default=0)
    max_memory_mb = models.PositiveIntegerField(_("memory (MiB)"), default=0)
    max_disk_gb = models.PositiveIntegerField(_("disk (GiB)"), default=0)
    # What was sold for a customer's VDS (offer acceptance); the node that joins is compared with it.
    sold_cores = models.PositiveIntegerField(_("cores sold"), null=True, blank=True)
    sold_memory_mb = models.PositiveIntegerField(_("memory sold (MiB)"), null=True, blank=True)
    sold_disk_gb = models.PositiveIntegerField(_("disk sold (GiB)"), null=True, blank=True)
    # Why a drain stopped (no room for the next server, a move failed): for staff, never customers.
    drain_error = models.TextField(_("drain stopped because"), blank=True)
    cpu_usage = models.FloatField(_("CPU usage"), default=0)
    memory_used_mb = models.PositiveIntegerField(_("memory used (MiB)"), default=0)
    disk_used_gb = models.PositiveIntegerField(_("disk used (GiB)"), default=0)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["cluster__name", "name"]
        constraints = [models.UniqueConstraint(fields=["cluster", "name"], name="unique_node_per_cluster")]
        verbose_name = _("node")
        verbose_name_plural = _("nodes")

    def __str__(self):
        return f"{self.name} ({self.cluster})"

    @property
    def accepts_new_servers(self):
        return self.status == self.Status.ONLINE and not self.maintenance and not self.draining

    @property
    def capacity_shortfall(self):
        """What the joined node lacks against what was sold: [(label, sold, found)], empty if it is enough."""
        if self.status == self.Status.AWAITING:
            return []
        checks = [
            (_("cores"), self.sold_cores, self.max_cores),
            (_("memory (MiB)"), self.sold_memory_mb, self.max_memory_mb),
            (_("disk (GiB)"), self.sold_disk_gb, self.max_disk_gb),
        ]
        # Proxmox reports memory and disk a little below the nominal size (kernel, filesystem).
        return [(label, sold, found) for label, sold, found in checks if sold and found < sold * 0.95]


class Image(models.Model):
    class Kind(models.TextChoices):
        QEMU = "qemu", _("Virtual machine")
        LXC = "lxc", _("Container")

    class Source(models.TextChoices):
        OS = "os", _("Operating system")
        APPLIANCE = "appliance", _("Appliance (TurnKey / Linux Containers)")
        OWN = "own", _("JIKU template")
        OCI = "oci", _("Application container (OCI)")

    # Files Proxmox fetches onto each node (as opposed to templates with disks).
    FETCHED_SOURCES = (Source.APPLIANCE, Source.OCI)

    class Status(models.TextChoices):
        READY = "ready", _("Ready")
        DOWNLOADING = "downloading", _("Downloading")
        PREPARING = "preparing", _("Being prepared")
        FAILED = "failed", _("Failed")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="images")
    # Empty for JIKU's public images; set for a tenant's own templates.
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="images")
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    template_vmid = models.PositiveIntegerField(_("template VMID"), null=True, blank=True)
    template_node = models.CharField(_("template node"), max_length=64, blank=True)
    volid = models.CharField(_("template volume"), max_length=255, blank=True)
    os_family = models.CharField(_("OS family"), max_length=32, default="debian")
    default_user = models.CharField(_("default user"), max_length=32, default="root")
    cloud_init = models.BooleanField(_("cloud-init"), default=False)
    min_disk_gb = models.PositiveIntegerField(_("minimum disk (GiB)"), default=4)
    checksum = models.CharField(_("checksum"), max_length=200, blank=True)
    active = models.BooleanField(_("active"), default=True)
    source = models.CharField(_("source"), max_length=12, choices=Source.choices, default=Source.OS)
    description = models.TextField(_("description"), blank=True)
    # Marketplace entries are offered only once staff approved them and the download was verified.
    approved = models.BooleanField(_("approved by staff"), default=True)
    status = models.CharField(_("state"), max_length=12, choices=Status.choices, default=Status.READY)
    status_error = models.TextField(_("error"), blank=True)
    # An OCI image is pulled by tag (all Proxmox VE 9.1 accepts); `checksum` holds the digest it was pinned to.
    oci_reference = models.CharField(_("OCI reference"), max_length=255, blank=True)
    nodes = models.JSONField(_("nodes holding it"), default=list, blank=True)

    class Meta:
        ordering = ["kind", "name"]
        verbose_name = _("image")
        verbose_name_plural = _("images")
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="qemu", template_vmid__isnull=False) | Q(kind="lxc") & ~Q(volid=""),
                name="image_has_a_source",
            )
        ]

    def __str__(self):
        return self.name

    @property
    def is_windows(self):
        return self.os_family == "windows"

    @property
    def placement_nodes(self):
        """Names of the nodes a server from this image can go to; None means any node.

        Own templates keep their disks on their node's local storage, which Proxmox clones only
        there; marketplace files exist only on the nodes they were fetched to.
        """
        if self.source == self.Source.OWN:
            return [self.template_node]
        if self.source in self.FETCHED_SOURCES:
            return list(self.nodes)
        return None

    def installs_on(self, node):
        allowed = self.placement_nodes
        return allowed is None or (node is not None and node.name in allowed)

    @classmethod
    def available_to(cls, tenant):
        return cls.objects.filter(
            Q(tenant__isnull=True) | Q(tenant=tenant), active=True, approved=True, status=cls.Status.READY
        )


class IPPool(models.Model):
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="ip_pools")
    node = models.ForeignKey(Node, null=True, blank=True, on_delete=models.CASCADE, related_name="ip_pools")
    name = models.CharField(_("name"), max_length=64)
    network = models.CharField(_("network"), max_length=64, help_text=_("CIDR, e.g. 192.0.2.0/24"))
    gateway = models.GenericIPAddressField(_("gateway"))
    range_start = models.GenericIPAddressField(_("first address"))
    range_end = models.GenericIPAddressField(_("last address"))
    nameserver = models.CharField(_("name server"), max_length=100, blank=True, default="9.9.9.9")
    # IPv6 pools route a whole prefix to each server instead of handing out single addresses;
    # first and last address then bound the prefixes that are handed out.
    server_prefixlen = models.PositiveSmallIntegerField(
        _("prefix length per server"), null=True, blank=True,
        help_text=_("IPv6 only: the prefix routed to each server, e.g. 64."),
    )

    class Meta:
        verbose_name = _("IP pool")
        verbose_name_plural = _("IP pools")

    def __str__(self):
        return f"{self.name} {self.network}"

    @property
    def prefixlen(self):
        return ipaddress.ip_network(self.network, strict=False).prefixlen

    @property
    def version(self):
        return ipaddress.ip_network(self.network, strict=False).version

    def clean(self):
        try:
            network = ipaddress.ip_network(self.network, strict=False)
        except ValueError as exc:
            raise ValidationError({"network": _("Enter a network in CIDR notation.")}) from exc
        if network.version == 6:
            length = self.server_prefixlen or 64
            if not network.prefixlen <= length <= 128:
                raise ValidationError({"server_prefixlen": _("The prefix per server must lie within the pool's network.")})
        elif self.server_prefixlen:
            raise ValidationError({"server_prefixlen": _("Only IPv6 pools route a prefix to each server.")})


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


STATUS_LABELS = dict(Server.Status.choices)
KIND_LABELS = dict(Server.Kind.choices)


def _within(tenant_limit, slots):
    """The plan's slots, never above what the tenant may have per server."""
    return tenant_limit if slots is None else min(tenant_limit, slots)


class Operation(models.Model):
    class Kind(models.TextChoices):
        CREATE = "create", _("Create")
        START = "start", _("Start")
        STOP = "stop", _("Stop")
        SHUTDOWN = "shutdown", _("Shut down")
        REBOOT = "reboot", _("Reboot")
        RESIZE = "resize", _("Resize")
        REINSTALL = "reinstall", _("Reinstall")
        RENAME = "rename", _("Rename")
        DELETE = "delete", _("Delete")
        DOWNLOAD = "download", _("Download template")
        SNAPSHOT = "snapshot", _("Snapshot")
        ROLLBACK = "rollback", _("Rollback")
        SNAPSHOT_DELETE = "snapshot_delete", _("Delete snapshot")
        BACKUP = "backup", _("Backup")
        RESTORE = "restore", _("Restore")
        BACKUP_DELETE = "backup_delete", _("Delete backup")
        BACKUP_PROTECT = "backup_protect", _("Protect backup")
        HA = "ha", _("High availability")
        MIGRATE = "migrate", _("Move to another node")
        STAGING = "staging", _("Create staging copy")
        PROMOTE = "promote", _("Promote staging")
        TEMPLATE = "template", _("Turn into template")
        FIREWALL = "firewall", _("Apply firewall")

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        WAITING = "waiting", _("Waiting")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    ACTIVE_STATES = ["queued", "running", "waiting"]
    STATE_COLOURS = {
        "queued": "grey",
        "running": "blue",
        "waiting": "yellow",
        "succeeded": "green",
        "failed": "red",
        "cancelled": "grey",
    }

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # Empty for platform work that belongs to no customer (marketplace downloads).
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.PROTECT, related_name="operations")
    server = models.ForeignKey(Server, null=True, blank=True, on_delete=models.CASCADE, related_name="operations")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.QUEUED)
    # What the operation acts on besides its server: real rows, not ids in params.
    cluster = models.ForeignKey(Cluster, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    image = models.ForeignKey(Image, null=True, blank=True, on_delete=models.SET_NULL, related_name="operations")
    backup = models.ForeignKey("Backup", null=True, blank=True, on_delete=models.SET_NULL, related_name="operations")
    target_node = models.ForeignKey(Node, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    drain_node = models.ForeignKey(Node, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The other server: the source of a staging copy, the staging copy a promote hands over to.
    peer = models.ForeignKey(Server, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The node (its id) whose task slot this operation holds while its Proxmox task runs. Engine
    # bookkeeping, not a foreign key: it changes under the node's row lock, where a key-share lock
    # on the node would deadlock with orders inserting servers onto it.
    slot_node = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)
    params = models.JSONField(default=dict, blank=True)
    step = models.PositiveSmallIntegerField(_("step"), default=0)
    step_count = models.PositiveSmallIntegerField(default=1)
    step_name = models.CharField(_("current step"), max_length=64, blank=True)
    upid = models.CharField(max_length=200, blank=True)
    upid_node = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(_("error"), blank=True)
    last_error = models.TextField(_("last transient error"), blank=True)
    not_before = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("operation")
        verbose_name_plural = _("operations")
        indexes = [models.Index(fields=["state", "updated_at"])]

    def __str__(self):
        return f"{self.get_kind_display()} {self.server or ''} ({self.get_state_display()})"

    @property
    def is_active(self):
        return self.state in self.ACTIVE_STATES

    @property
    def kind_label(self):
        return OPERATION_KINDS[self.kind]

    @property
    def customer_error(self):
        """What a customer reads about a failure: the portal's words, never Proxmox's text or internals."""
        if self.state != self.State.FAILED:
            return ""
        return FAILURE_MESSAGES.get(self.kind, FAILURE_DEFAULT)

    @property
    def state_colour(self):
        return self.STATE_COLOURS.get(self.state, "grey")

    @property
    def progress_percent(self):
        if self.state == self.State.SUCCEEDED:
            return 100
        return int(100 * self.step / max(self.step_count, 1))

    @property
    def duration(self):
        if self.started_at is None:
            return None
        return (self.finished_at or timezone.now()) - self.started_at


OPERATION_KINDS = dict(Operation.Kind.choices)
FAILURE_DEFAULT = _("This did not work. JIKU's staff see the cause and look into it; you can try again later.")
# Proxmox's own error text stays in Operation.error for staff.
FAILURE_MESSAGES = {
    "create": _("The build failed and everything reserved for it was released. JIKU's staff see the cause."),
    "reinstall": _("The reinstall failed. JIKU's staff see the cause and repair the server."),
    "delete": _("Deleting failed; the server is still there. JIKU's staff see the cause."),
    "start": _("The server could not be started. JIKU's staff see the cause; you can try again."),
    "stop": _("The server could not be stopped. JIKU's staff see the cause; you can try again."),
    "shutdown": _("The server did not shut down. Try again, or stop it hard."),
    "reboot": _("The server could not be rebooted. JIKU's staff see the cause; you can try again."),
    "resize": _("Resizing failed; the server keeps its previous size where nothing was changed yet."),
    "rename": _("Renaming failed; the server keeps its previous name."),
    "snapshot": _("The snapshot could not be taken; nothing was changed."),
    "rollback": _("The rollback failed. JIKU's staff see the cause."),
    "snapshot_delete": _("The snapshot could not be deleted; it is still there."),
    "backup": _("The backup failed; the server was not changed. JIKU's staff see the cause."),
    "restore": _("The restore failed. JIKU's staff see the cause."),
    "backup_delete": _("The backup could not be deleted; it is still there."),
    "backup_protect": _("The protection could not be changed."),
    "ha": _("High availability could not be switched; it stays as it was."),
    "migrate": _("Moving the server to another node failed; it stays where it was."),
    "staging": _("The staging copy could not be built and everything reserved for it was released."),
    "promote": _("Promoting the staging copy failed; production was not swapped."),
    "firewall": _("The firewall rules could not be written to the server; the portal tries again when you save."),
}


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


class NodeMetrics(models.Model):
    """A node's recent Proxmox rrddata, refreshed by a task, so staff pages draw graphs without calling Proxmox."""

    node = models.OneToOneField(Node, on_delete=models.CASCADE, related_name="metrics")
    timeframe = models.CharField(max_length=8, default="hour")
    # [[unix time, cpu 0..1, memory used 0..1], ...], oldest first.
    points = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("node metrics")
        verbose_name_plural = _("node metrics")

    def __str__(self):
        return f"{self.node} ({self.timeframe})"


class ConsoleSession(models.Model):
    """One opening of a server's console: the browser's single-use ticket, then the live session.

    Only a hash of the ticket is kept, so neither the database nor a backup of it opens a console.
    Staff see the open sessions and end them; ending one is a row update the proxy notices.
    """

    class Kind(models.TextChoices):
        VNC = "vnc", _("Graphical console")
        SERIAL = "serial", _("Serial console")
        TERMINAL = "terminal", _("Terminal")

    class State(models.TextChoices):
        ISSUED = "issued", _("Waiting for the browser")
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    class End(models.TextChoices):
        BROWSER = "browser", _("Closed in the browser")
        UPSTREAM = "upstream", _("Connection to Proxmox ended")
        FAILED = "failed", _("Could not connect")
        STAFF = "staff", _("Ended by JIKU staff")
        ACCESS = "access", _("Access ended")
        UNUSED = "unused", _("Never used")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="console_sessions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    ticket_hash = models.CharField(max_length=64, unique=True, editable=False)
    ip_address = models.GenericIPAddressField(_("from"), null=True, blank=True)
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.ISSUED)
    created_at = models.DateTimeField(_("opened"), default=timezone.now)
    expires_at = models.DateTimeField(_("ticket valid until"))
    connected_at = models.DateTimeField(_("connected"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    end = models.CharField(_("ended because"), max_length=8, choices=End.choices, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("console session")
        verbose_name_plural = _("console sessions")
        indexes = [models.Index(fields=["state", "created_at"], name="console_session_state")]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["vnc", "serial", "terminal"]), name="console_session_kind"),
            models.CheckConstraint(condition=Q(state="closed") | Q(closed_at__isnull=True), name="console_closed_at"),
        ]

    def __str__(self):
        return f"{self.server} {self.get_kind_display()} {self.created_at:%Y-%m-%d %H:%M}"


# --- Firewall (issue 21): per server rules, the tenant's address sets and security groups ---------
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
