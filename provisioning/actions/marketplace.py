"""Marketplace: appliances from the TurnKey / Linux Containers index that Proxmox exposes.

An appliance becomes an image only through staff: they import it (Proxmox downloads it on every
online node and checks it against the index's checksum), then approve it; until both happened
customers do not see it.
"""

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from provisioning import engine
from provisioning.models import Image, Node, Operation
from tenants.audit import audit_record

TEMPLATE_NAME = re.compile(r"^[A-Za-z0-9][\w.+-]*\.tar\.(?:gz|xz|zst)$")


def appliance_import(*, cluster, template, name="", user=None, request=None):
    template = template.strip()
    if not TEMPLATE_NAME.match(template):
        raise ValidationError({"template": _("Enter the template file name from the index, e.g. debian-12-turnkey-nextcloud_18.1-1_amd64.tar.gz.")})
    volid = f"{cluster.template_storage}:vztmpl/{template}"
    nodes = list(Node.objects.filter(cluster=cluster, status=Node.Status.ONLINE).values_list("name", flat=True))
    if not nodes:
        raise ValidationError(_("No node of this cluster is online."))
    with transaction.atomic():
        if Image.objects.filter(cluster=cluster, volid=volid).exists():
            raise ValidationError({"template": _("This appliance is in the catalogue already.")})
        image = Image.objects.create(
            cluster=cluster, name=name.strip() or template.split("_")[0], kind=Image.Kind.LXC, volid=volid,
            source=Image.Source.APPLIANCE, approved=False, status=Image.Status.DOWNLOADING, min_disk_gb=8,
        )
        op = Operation.objects.create(
            kind=Operation.Kind.DOWNLOAD, created_by=user,
            params={"cluster": cluster.pk, "image": image.pk, "template": template, "nodes": nodes},
        )
        engine.enqueue_on_commit(op.pk)
        audit_record(action="marketplace.import", request=request, actor=user, obj=image, details={"template": template})
    return image, op


def image_approve(*, image, approved, user=None, request=None):
    with transaction.atomic():
        image = Image.objects.select_for_update().get(pk=image.pk)
        if approved and image.status != Image.Status.READY:
            raise ValidationError(_("Only a verified download can be offered to customers."))
        image.approved = bool(approved)
        image.save(update_fields=["approved"])
        audit_record(action="marketplace.approve" if approved else "marketplace.withdraw", request=request, actor=user, obj=image)
    return image
