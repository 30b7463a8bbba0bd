"""Where servers run: Proxmox clusters, their nodes and node metrics, and the IP pools."""

import ipaddress

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from provisioning.secrets import decrypt, encrypt
from tenants.models import Tenant


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
