"""What a server is built from: operating systems, marketplace appliances and tenants' own templates."""

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tenants.models import Tenant

from .infrastructure import Cluster


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
