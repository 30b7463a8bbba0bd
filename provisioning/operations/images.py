"""The marketplace's files and JIKU's own templates: appliances and OCI images fetched onto nodes,
servers turned into templates."""

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from provisioning import registry
from provisioning.models import Image, Operation, Server
from provisioning.proxmox import PVE, ProxmoxError

from . import build, guests
from .base import Recipe, Step, register, sync
from .guests import STOP, node_name

LABELS = {
    **guests.LABELS,
    "download": gettext_lazy("Downloading template"),
    "template": gettext_lazy("Turning into template"),
    "pin": gettext_lazy("Asking the registry for the digest"),
    "clear": gettext_lazy("Removing an old file of the same name"),
    "verify": gettext_lazy("Checking the digest again"),
}
TEMPLATE_FAILED = gettext_noop("Turning the server into a template failed. JIKU's staff see the cause.")


def image_failed(op):
    Image.objects.filter(pk=op.image_id).update(status=Image.Status.FAILED, status_error=op.error[:1000])


def has_file(ctx, node, volid):
    return volid in {e["volid"] for e in ctx.pve.templates_on(node=node, storage=ctx.pve.cluster.template_storage)}


def download_on(node):
    """Download the appliance on one node, unless it is there already; keep the index's checksum."""

    def run(ctx):
        image = Image.objects.get(pk=ctx.op.image_id)
        if has_file(ctx, node, image.volid):
            return None
        entry = next((e for e in ctx.pve.appliances(node) if e.get("template") == ctx.params["template"]), None)
        if entry is None:
            raise ProxmoxError(f"no such template in the appliance index of {node}: {ctx.params['template']}")
        if not image.checksum:
            # Proxmox checks the download against this checksum from the index itself.
            image.checksum = entry.get("sha512sum") or entry.get("md5sum") or ""
            image.description = entry.get("headline") or entry.get("description", "")[:500]
            image.save(update_fields=["checksum", "description"])
        return ctx.pve.appliance_download(node=node, storage=ctx.pve.cluster.template_storage, template=ctx.params["template"])

    return run


def _oci(ctx):
    return registry.parse(ctx.params["oci"])


def _pinned_digest(ctx):
    try:
        return registry.resolve(_oci(ctx))
    except registry.RegistryError as exc:
        raise ProxmoxError(str(exc), retryable=exc.retryable) from exc


def oci_pin(ctx):
    """Pin the image to the digest its tag names now, or check the digest staff gave."""
    digest = _pinned_digest(ctx)
    expected = ctx.params.get("digest")
    if expected and digest != expected:
        raise ProxmoxError(_("The tag points at %(now)s, not at the pinned %(pinned)s; nothing was pulled.")
                           % {"now": digest, "pinned": expected})
    ctx.params["digest"] = digest
    ctx.op.save(update_fields=["params"])
    Image.objects.filter(pk=ctx.op.image_id).update(checksum=digest)


def oci_clear_on(node):
    """A file of that name already on the node is not ours to trust (a pull that failed to clean up)."""

    def run(ctx):
        volid = ctx.op.image.volid
        if has_file(ctx, node, volid):
            return ctx.pve.volume_delete(node=node, storage=ctx.pve.cluster.template_storage, volid=volid)
        return None

    return run


def oci_pull_on(node):
    def run(ctx):
        if has_file(ctx, node, ctx.op.image.volid):
            return None  # our own pull, started before a worker crash
        ref = _oci(ctx)
        return ctx.pve.oci_pull(node=node, storage=ctx.pve.cluster.template_storage, reference=ref.pull_name,
                                filename=ref.filename)

    return run


def oci_verify(ctx):
    """After the pulls: every node has the file and the tag still names the pinned digest."""
    image = ctx.op.image
    for node in ctx.params["nodes"]:
        if not has_file(ctx, node, image.volid):
            raise ProxmoxError(_("Proxmox did not store the image as %(volid)s on %(node)s.") % {"volid": image.volid, "node": node})
    digest = _pinned_digest(ctx)
    if digest != ctx.params["digest"]:
        raise ProxmoxError(_("The tag moved to %(now)s while Proxmox pulled it; the pulled files may not be the pinned "
                             "%(pinned)s and were removed.") % {"now": digest, "pinned": ctx.params["digest"]})


def oci_remove_pulled(op):
    """A failed OCI import leaves no files of unknown content on the nodes."""
    image = Image.objects.select_related("cluster").filter(pk=op.image_id).first()
    if image is None:
        return
    pve, storage = PVE(image.cluster), image.cluster.template_storage
    for node in op.params.get("nodes", []):
        try:
            pve.volume_delete(node=node, storage=storage, volid=image.volid)
        except ProxmoxError:
            pass  # not pulled there, or the node is away; staff see the failure either way


def downloaded(ctx):
    with transaction.atomic():
        image = Image.objects.select_for_update().get(pk=ctx.op.image_id)
        image.nodes = sorted(set(image.nodes) | set(ctx.params["nodes"]))
        image.status, image.status_error = Image.Status.READY, ""
        image.save(update_fields=["nodes", "status", "status_error"])


def download_steps(op):
    nodes = op.params["nodes"]
    if op.params.get("oci"):
        clears = [Step("clear", oci_clear_on(node)) for node in nodes]
        pulls = [Step("download", oci_pull_on(node)) for node in nodes]
        return [sync("pin", oci_pin), *clears, *pulls, sync("verify", oci_verify), sync("finish", downloaded)]
    return [Step("download", download_on(node)) for node in nodes] + [sync("finish", downloaded)]


def _download_failed(op):
    if op.params.get("more_nodes"):
        # The image stays offered on the nodes that have it; staff read why the others failed.
        Image.objects.filter(pk=op.image_id).update(status_error=op.error[:1000])
    else:
        image_failed(op)
    if op.params.get("oci"):
        oci_remove_pulled(op)


def convert(ctx):
    s = ctx.server
    status = ctx.pve.guest_status(node_name(ctx), s.kind, s.vmid) or {}
    if status.get("template"):
        return None
    return ctx.pve.make_template(node=node_name(ctx), kind=s.kind, vmid=s.vmid)


def converted(ctx):
    """The guest belongs to the image now: the server leaves its tenant and gives back quota and address."""
    s = ctx.server
    Image.objects.filter(pk=ctx.op.image_id).update(status=Image.Status.READY, status_error="")
    s.transition(Server.Status.DELETED, s.status_reason, s.status_reason_params)
    guests.retire(s)


def _template_failed(op):
    build.gone_back(op, TEMPLATE_FAILED)
    image_failed(op)


register(
    Recipe(Operation.Kind.DOWNLOAD, download_steps, on_failure=_download_failed, labels=LABELS),
    Recipe(Operation.Kind.TEMPLATE, lambda op: [STOP, Step("template", convert), sync("finish", converted)],
           on_failure=_template_failed, labels=LABELS),
)
