"""Marketplace: appliances from Proxmox's index, application containers (OCI) and JIKU's own templates.

An appliance becomes an image only through staff: they import it (Proxmox downloads it on every
online node and checks it against the index's checksum), then approve it; until both happened
customers do not see it. Application containers (OCI) are pinned to a registry digest, own
templates are made from a prepared server; both need approval too.
"""

import re

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from provisioning import engine, registry
from provisioning.actions.servers import lock_server, no_pending, not_on_node_message
from provisioning.models import Cluster, Image, Node, Operation, Server
from tenants.audit import audit_record

TEMPLATE_NAME = re.compile(r"^[A-Za-z0-9][\w.+-]*\.tar\.(?:gz|xz|zst)$")


def appliance_import(
    *, cluster: Cluster, template: str, name: str = "", user: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
):
    template = template.strip()
    if not TEMPLATE_NAME.match(template):
        raise ValidationError({"template": _("Enter the template file name from the index, e.g. debian-12-turnkey-nextcloud_18.1-1_amd64.tar.gz.")})
    volid = f"{cluster.template_storage}:vztmpl/{template}"
    nodes = _online_nodes(cluster)
    with transaction.atomic():
        if Image.objects.filter(cluster=cluster, volid=volid).exists():
            raise ValidationError({"template": _("This appliance is in the catalogue already.")})
        image = Image.objects.create(
            cluster=cluster, name=name.strip() or template.split("_")[0], kind=Image.Kind.LXC, volid=volid,
            source=Image.Source.APPLIANCE, approved=False, status=Image.Status.DOWNLOADING, min_disk_gb=8,
        )
        op = engine.operation_create(kind=Operation.Kind.DOWNLOAD, cluster=cluster, image=image, user=user,
                                     params={"template": template, "nodes": nodes})
        audit_record(action="marketplace.import", request=request, actor=user, obj=image, details={"template": template})
    return image, op


def oci_import(
    *, cluster: Cluster, reference: str, name: str = "", user: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
):
    """Staff: an application container from an allowed registry, pinned to a digest, pulled on every node.

    With `name:tag@sha256:...` the pull goes ahead only if the tag still names that digest;
    with `name:tag` the digest the registry names at the first step is pinned.
    """
    try:
        ref = registry.parse(reference)
    except ValueError as exc:
        raise ValidationError({"reference": str(exc)}) from exc
    if ref.host not in settings.OCI_ALLOWED_REGISTRIES:
        raise ValidationError({"reference": _("Images may come only from these registries: %(hosts)s.") % {"hosts": ", ".join(settings.OCI_ALLOWED_REGISTRIES)}})
    volid = f"{cluster.template_storage}:vztmpl/{ref.filename}"
    with transaction.atomic():
        nodes = _online_nodes(cluster)
        if Image.objects.filter(cluster=cluster, volid=volid).exists():
            raise ValidationError({"reference": _("This image is in the catalogue already.")})
        image = Image.objects.create(
            cluster=cluster, name=name.strip() or f"{ref.repository.rsplit('/', 1)[-1]} {ref.tag}", kind=Image.Kind.LXC,
            volid=volid, oci_reference=str(ref), source=Image.Source.OCI, approved=False,
            status=Image.Status.DOWNLOADING, min_disk_gb=2,
        )
        op = engine.operation_create(kind=Operation.Kind.DOWNLOAD, cluster=cluster, image=image, user=user,
                                     params={"oci": str(ref), "digest": ref.digest, "nodes": nodes})
        audit_record(action="marketplace.import", request=request, actor=user, obj=image, details={"oci": str(ref)})
    return image, op


def image_fetch_to_new_nodes(
    *, image: Image, user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
) -> Operation:
    """Staff: fetch an appliance or OCI image onto the online nodes that lack it (an OCI image only
    while its tag still names the pinned digest); it stays offered on the others meanwhile."""
    with transaction.atomic():
        image = Image.objects.select_for_update().get(pk=image.pk)
        if image.source not in Image.FETCHED_SOURCES or image.status != Image.Status.READY:
            raise ValidationError(_("Only a verified appliance or application container can be fetched onto more nodes."))
        missing = [n for n in _online_nodes(image.cluster) if n not in image.nodes]
        if not missing:
            raise ValidationError(_("Every online node has this image already."))
        if Operation.objects.filter(kind=Operation.Kind.DOWNLOAD, state__in=Operation.ACTIVE_STATES, image=image).exists():
            raise ValidationError(_("This image is being fetched already."))
        params = {"nodes": missing, "more_nodes": True}
        if image.source == Image.Source.OCI:
            params.update(oci=image.oci_reference.split("@")[0], digest=image.checksum)
        else:
            params["template"] = image.volid.split("/", 1)[1]
        op = engine.operation_create(kind=Operation.Kind.DOWNLOAD, cluster=image.cluster, image=image, user=user,
                                     params=params)
        audit_record(action="marketplace.fetch", request=request, actor=user, obj=image, details={"nodes": missing})
    return op


def image_await_on(*, image: Image, node: Node):
    """For an order waiting for `node`: True once the image is there, False while it is fetched.

    Starts the fetch the first time; raises ValidationError when the image cannot get there (an
    own template lives elsewhere, or fetching onto that node failed, with the reason).
    """
    if image.installs_on(node):
        return True
    if image.source not in Image.FETCHED_SOURCES:
        raise ValidationError(not_on_node_message(image, node))
    fetches = Operation.objects.filter(kind=Operation.Kind.DOWNLOAD, image=image)
    if fetches.filter(state__in=Operation.ACTIVE_STATES).exists():
        return False
    failed = next((op for op in fetches.filter(state=Operation.State.FAILED) if node.name in op.params.get("nodes", [])), None)
    if failed is not None:
        raise ValidationError(_("The image could not be fetched onto node %(node)s: %(error)s") % {"node": node.name, "error": failed.error})
    image_fetch_to_new_nodes(image=image)
    return False


def _online_nodes(cluster):
    nodes = list(Node.objects.filter(cluster=cluster, status=Node.Status.ONLINE).values_list("name", flat=True))
    if not nodes:
        raise ValidationError(_("No node of this cluster is online."))
    return nodes


def image_approve(
    *, image: Image, approved: bool, user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
) -> Image:
    with transaction.atomic():
        image = Image.objects.select_for_update().get(pk=image.pk)
        if approved and image.status != Image.Status.READY:
            raise ValidationError(_("Only a verified download can be offered to customers."))
        image.approved = bool(approved)
        image.save(update_fields=["approved"])
        audit_record(action="marketplace.approve" if approved else "marketplace.withdraw", request=request, actor=user, obj=image)
    return image


def template_from_server(
    *, server: Server, name: str, description: str = "", for_everyone: bool = False,
    user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
):
    """Staff turn a prepared server into an own template; the server leaves its tenant for good.

    Only cloud-init VMs qualify: a clone of a container template cannot be given the customer's
    SSH keys or password through Proxmox's API (only creating a container from a vztmpl can), so
    it would hand out whatever credentials the prepared container had.
    """
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("Enter a name for the template.")})
    with transaction.atomic():
        server = lock_server(server)
        if server.kind != Server.Kind.QEMU or not (server.image and server.image.cloud_init):
            raise ValidationError({"server": _("Only a virtual machine installed from a cloud-init image can become a template; customers' SSH keys and passwords could not be applied otherwise.")})
        if server.status not in (Server.Status.RUNNING, Server.Status.STOPPED):
            raise ValidationError({"server": _("Only a running or stopped server can become a template.")})
        if server.ha_enabled:
            raise ValidationError({"server": _("Turn high availability off first; Proxmox does not convert HA-managed guests.")})
        no_pending(server)
        if Image.objects.filter(cluster=server.cluster, name=name).exists():
            raise ValidationError({"name": _("An image with this name exists in this cluster already.")})
        image = Image.objects.create(
            cluster=server.cluster, tenant=None if for_everyone else server.tenant, name=name, kind=Image.Kind.QEMU,
            template_vmid=server.vmid, template_node=server.node.name, os_family=server.image.os_family,
            default_user=server.image.default_user, cloud_init=True, min_disk_gb=server.disk_gb,
            source=Image.Source.OWN, description=description.strip(), approved=False, status=Image.Status.PREPARING,
        )
        previous = server.status
        server.transition(Server.Status.DELETING, gettext_noop("Becoming the template %(name)s"), {"name": name})
        op = engine.operation_create(server=server, kind=Operation.Kind.TEMPLATE, user=user, image=image,
                                     params={"previous_status": previous})
        audit_record(action="server.template", tenant=server.tenant, request=request, actor=user, obj=server,
                     details={"image": name, "for_everyone": bool(for_everyone)})
    return image, op
