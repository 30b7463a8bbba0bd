"""Every write on servers goes through one of these keyword-only actions.

Each checks permission-independent rules (the view or API already checked the role), quota and
state in one transaction, reserves what must be unique, writes an Operation row and enqueues it
on commit. Bad input raises ValidationError keyed by field, and nothing is changed.
"""

import re
from collections.abc import Iterable
from types import SimpleNamespace

from django.contrib.auth import password_validation
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Sum
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from provisioning import engine, units
from provisioning.models import Cluster, Image, Node, Operation, Server
from provisioning.placement import (
    PlacementError,
    allocate_ipv4,
    allocate_ipv6,
    allocate_vmid,
    check_pinned_node,
    choose_node,
)
from provisioning.secrets import encrypt
from tenants.audit import audit_record
from tenants.models import SSHKey, Tenant

from .duties import require_duty

HOSTNAME_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# What a customer may order or resize to, whichever door the numbers come through.
SIZE_LIMITS = {"cores": (1, 64), "memory_mb": (256, 524288), "disk_gb": (1, 4096)}
SIZE_UNITS = {"cores": gettext_lazy("cores"), "memory_mb": gettext_lazy("MiB"), "disk_gb": gettext_lazy("GiB")}
PASSWORD_MAX_LENGTH = 128


def validate_hostname(hostname):
    if not hostname:
        raise ValidationError({"hostname": _("Enter a hostname.")})
    if len(hostname) > 63:
        raise ValidationError({"hostname": _("A hostname has at most 63 characters.")})
    if not HOSTNAME_RE.match(hostname):
        raise ValidationError(
            {
                "hostname": _(
                    "Use lower-case letters, digits and hyphens only; a hostname cannot start or end with a hyphen."
                )
            }
        )


def validate_size(*, cores: int, memory_mb: int, disk_gb: int):
    for field, value in (("cores", cores), ("memory_mb", memory_mb), ("disk_gb", disk_gb)):
        low, high = SIZE_LIMITS[field]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValidationError({field: _("Choose from %(min)s to %(max)s %(unit)s.") % {
                "min": low, "max": high, "unit": SIZE_UNITS[field]}})


def validate_server_password(password, *, hostname=""):
    """A server's root or login password: the portal's own password rules, and unlike the hostname.

    It guards a machine on the internet, so "password" or "12345678" must never get through.
    """
    if not password:
        return
    if len(password) > PASSWORD_MAX_LENGTH:
        raise ValidationError({"password": _("At most %(n)s characters.") % {"n": PASSWORD_MAX_LENGTH}})
    if any(ord(c) < 32 or ord(c) == 127 for c in password):
        raise ValidationError({"password": _("The password cannot contain control characters or line breaks.")})
    validators = [
        *password_validation.get_default_password_validators(),
        password_validation.UserAttributeSimilarityValidator(user_attributes=("hostname",)),
    ]
    try:
        password_validation.validate_password(password, user=SimpleNamespace(hostname=hostname),
                                              password_validators=validators)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc


def quota_usage(tenant, exclude=None):
    qs = Server.objects.for_tenant(tenant).live()
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    # One query: the dashboard asks this on every load, every order and resize under the tenant's lock.
    agg = qs.aggregate(servers=Count("pk"), cores=Sum("cores"), memory=Sum("memory_mb"), disk=Sum("disk_gb"))
    return {
        "servers": agg["servers"],
        "cores": agg["cores"] or 0,
        "memory_mb": agg["memory"] or 0,
        "disk_gb": agg["disk"] or 0,
    }


def check_quota(tenant, *, cores, memory_mb, disk_gb, new_servers=1, exclude=None):
    """Raise a ValidationError naming the exact limit an order would break."""
    used = quota_usage(tenant, exclude=exclude)
    checks = [
        ("servers", used["servers"] + new_servers, tenant.max_servers, _("servers"), str),
        ("cores", used["cores"] + cores, tenant.max_cores, _("cores"), str),
        # In the GB the forms ask for and the pages show (the API's MiB are 1024 to the GB).
        ("memory_mb", used["memory_mb"] + memory_mb, tenant.max_memory_mb, _("memory"), units.memory),
        ("disk_gb", used["disk_gb"] + disk_gb, tenant.max_disk_gb, _("disk"), units.disk),
    ]
    for field, would, limit, unit, size in checks:
        if would > limit:
            raise ValidationError(
                {
                    field if field != "servers" else "__all__": _(
                        "Your tenant may use %(limit)s %(unit)s; this would make %(would)s."
                    )
                    % {"limit": size(limit), "unit": unit, "would": size(would)}
                }
            )


def ensure_active(tenant):
    if tenant.status != Tenant.Status.ACTIVE:
        raise ValidationError(_("This tenant is suspended; servers cannot be changed."))


def ssh_key_text(tenant, ssh_keys):
    keys = list(ssh_keys)
    for key in keys:
        if not isinstance(key, SSHKey) or key.tenant_id != tenant.pk:
            raise ValidationError({"ssh_keys": _("Select SSH keys of your own tenant.")})
    return "\n".join(k.public_key.strip() for k in keys)


def server_create(
    *, tenant: Tenant, image: Image, hostname: str, cores: int, memory_mb: int, disk_gb: int,
    ssh_keys: Iterable[SSHKey] = (), password: str = "", node: Node | None = None, snapshot_slots=None,
    backup_slots=None, user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
) -> Server:
    """Order a server. `node` pins it (staff, offers on a dedicated VDS); otherwise placement decides.

    The slots come from the plan; without them only the tenant's per-server limits apply.
    """
    ensure_active(tenant)
    validate_hostname(hostname)
    if image is None or not Image.available_to(tenant).filter(pk=image.pk).exists():
        raise ValidationError({"image": _("Choose one of the offered images.")})
    if disk_gb < image.min_disk_gb:
        raise ValidationError(
            {"disk_gb": _("This image needs a disk of at least %(size)s.") % {"size": units.disk(image.min_disk_gb)}}
        )
    validate_size(cores=cores, memory_mb=memory_mb, disk_gb=disk_gb)
    validate_server_password(password, hostname=hostname)
    key_text = ssh_key_text(tenant, ssh_keys)
    try:
        with transaction.atomic():
            server = reserve_server(
                tenant=tenant,
                cluster=image.cluster,
                kind=image.kind,
                hostname=hostname,
                cores=cores,
                memory_mb=memory_mb,
                disk_gb=disk_gb,
                node=node,
                only=image.placement_nodes,
                image=image,
                default_user=image.default_user,
                ssh_keys=key_text,
                snapshot_slots=snapshot_slots,
                backup_slots=backup_slots,
                created_by=user,
            )
            engine.operation_create(server=server, kind=Operation.Kind.CREATE, params={"password": encrypt(password)}, user=user)
            audit_record(
                action="server.create",
                tenant=tenant,
                request=request,
                actor=user,
                obj=server,
                details={"image": image.name, "cores": cores, "memory_mb": memory_mb, "disk_gb": disk_gb},
            )
    except IntegrityError as exc:
        # Only a race on the unique hostname can get here: the cluster lock serialises VMIDs and IPs.
        raise ValidationError({"hostname": _("You already have a server called %(name)s.") % {"name": hostname}}) from exc
    return server


def reserve_server(
    *, tenant: Tenant, cluster: Cluster, kind: str, hostname: str, cores: int, memory_mb: int, disk_gb: int,
    node: Node | None = None, only=None, unplaceable=None, **fields,
):
    """Inside the caller's transaction: quota, unique hostname, node, VMID and IP for a new server.

    `only` names the nodes the server may go to (those holding the image or the backup it is built
    from); `unplaceable` is the message when none of them takes it.

    The tenant row, then the cluster row, are locked in that order, so concurrent orders queue
    here briefly instead of overshooting a quota or sharing a VMID or an address.
    """
    validate_hostname(hostname)
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    ensure_active(tenant)
    if Server.objects.for_tenant(tenant).live().filter(hostname=hostname).exists():
        raise ValidationError({"hostname": _("You already have a server called %(name)s.") % {"name": hostname}})
    check_quota(tenant, cores=cores, memory_mb=memory_mb, disk_gb=disk_gb)
    cluster = Cluster.objects.select_for_update().get(pk=cluster.pk)
    try:
        if node is None:
            try:
                node = choose_node(cluster=cluster, tenant=tenant, cores=cores, memory_mb=memory_mb, disk_gb=disk_gb, only=only)
            except PlacementError as exc:
                raise PlacementError(unplaceable or str(exc)) from exc
        else:
            if only is not None and node.name not in only:
                raise PlacementError(not_on_node_message(fields.get("image"), node))
            check_pinned_node(node=node, cluster=cluster, tenant=tenant, cores=cores, memory_mb=memory_mb, disk_gb=disk_gb)
        vmid = allocate_vmid(cluster)
        ipv4, _pool = allocate_ipv4(cluster, node)
        ipv6_prefix, ipv6 = allocate_ipv6(cluster, node)
    except PlacementError as exc:
        raise ValidationError(str(exc)) from exc
    return Server.objects.create(
        tenant=tenant,
        cluster=cluster,
        node=node,
        kind=kind,
        hostname=hostname,
        vmid=vmid,
        cores=cores,
        memory_mb=memory_mb,
        disk_gb=disk_gb,
        ipv4=ipv4,
        ipv6_prefix=ipv6_prefix,
        ipv6=ipv6,
        **fields,
    )


def not_on_node_message(image, node):
    where = {"image": image.name if image else "", "node": node.name if node else "–"}
    if image is not None and image.source == Image.Source.OWN:
        return _("The template %(image)s can only be installed on node %(node)s.") % {**where, "node": image.template_node}
    return _("The image %(image)s is not on node %(node)s yet; JIKU can fetch it there.") % where


# Which statuses each power action makes sense in.
POWER_RULES = {
    Operation.Kind.START: ({Server.Status.STOPPED}, gettext_lazy("Only a stopped server can be started.")),
    Operation.Kind.STOP: ({Server.Status.RUNNING}, gettext_lazy("Only a running server can be stopped.")),
    Operation.Kind.SHUTDOWN: ({Server.Status.RUNNING}, gettext_lazy("Only a running server can be shut down.")),
    Operation.Kind.REBOOT: ({Server.Status.RUNNING}, gettext_lazy("Only a running server can be rebooted.")),
}


def lock_server(server):
    return Server.objects.select_for_update().select_related("tenant").get(pk=server.pk)


def no_pending(server):
    if engine.server_is_busy(server):
        raise ValidationError(_("Another operation on this server is still running; try again when it has finished."))


def server_power(
    *, server: Server, action: str, user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
) -> Operation:
    allowed, message = POWER_RULES[action]
    with transaction.atomic():
        server = lock_server(server)
        ensure_active(server.tenant)
        no_pending(server)
        # Stopping a server that stopped unexpectedly records that it is meant to stay off.
        keep_off = action in (Operation.Kind.STOP, Operation.Kind.SHUTDOWN) and server.stopped_unexpectedly
        if server.status not in allowed and not keep_off:
            raise ValidationError(message)
        op = engine.operation_create(server=server, kind=action, user=user)
        audit_record(action=f"server.{action}", tenant=server.tenant, request=request, actor=user, obj=server)
    return op


def server_set_auto_restart(
    *, server: Server, enabled: bool, user: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
) -> Server:
    """The customer's wish that the portal starts the server again when it stops unexpectedly."""
    with transaction.atomic():
        server = lock_server(server)
        ensure_active(server.tenant)
        if server.status in (Server.Status.DELETING, Server.Status.DELETED, Server.Status.FAILED):
            raise ValidationError(_("This server is being deleted or was never built."))
        server.auto_restart = bool(enabled)
        server.save(update_fields=["auto_restart"])
        audit_record(action="server.auto_restart_on" if enabled else "server.auto_restart_off", tenant=server.tenant,
                     request=request, actor=user, obj=server)
    return server


def server_resize(
    *, server: Server, cores: int, memory_mb: int, disk_gb: int, user: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
) -> Operation:
    with transaction.atomic():
        server = lock_server(server)
        tenant = Tenant.objects.select_for_update().get(pk=server.tenant_id)
        ensure_active(tenant)
        no_pending(server)
        if server.status not in (Server.Status.RUNNING, Server.Status.STOPPED):
            raise ValidationError(_("Only a running or stopped server can be resized."))
        validate_size(cores=cores, memory_mb=memory_mb, disk_gb=disk_gb)
        if disk_gb < server.disk_gb:
            raise ValidationError(
                {"disk_gb": _("Disks can only grow; this server has %(size)s.") % {"size": units.disk(server.disk_gb)}}
            )
        if (cores, memory_mb, disk_gb) == (server.cores, server.memory_mb, server.disk_gb):
            raise ValidationError(_("Nothing to change."))
        check_quota(tenant, cores=cores, memory_mb=memory_mb, disk_gb=disk_gb, new_servers=0, exclude=server)
        old = {"cores": server.cores, "memory_mb": server.memory_mb, "disk_gb": server.disk_gb}
        params = {
            "old": old,
            # Kept so readers of the history (billing) see both sides of the change.
            "new": {"cores": cores, "memory_mb": memory_mb, "disk_gb": disk_gb},
            "disk_grow": disk_gb > server.disk_gb,
            "was_running": server.status == Server.Status.RUNNING,
            "needs_reboot": (cores, memory_mb) != (server.cores, server.memory_mb),
        }
        server.cores, server.memory_mb, server.disk_gb = cores, memory_mb, disk_gb
        server.save(update_fields=["cores", "memory_mb", "disk_gb"])
        op = engine.operation_create(server=server, kind=Operation.Kind.RESIZE, params=params, user=user)
        audit_record(action="server.resize", tenant=tenant, request=request, actor=user, obj=server, details={"old": old})
    return op


def server_rename(
    *, server: Server, hostname: str, user: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
) -> Operation:
    validate_hostname(hostname)
    with transaction.atomic():
        server = lock_server(server)
        ensure_active(server.tenant)
        no_pending(server)
        if server.status not in (Server.Status.RUNNING, Server.Status.STOPPED):
            raise ValidationError(_("Only a running or stopped server can be renamed."))
        if hostname == server.hostname:
            raise ValidationError({"hostname": _("That is already the server's name.")})
        if Server.objects.for_tenant(server.tenant).live().filter(hostname=hostname).exists():
            raise ValidationError({"hostname": _("You already have a server called %(name)s.") % {"name": hostname}})
        old = server.hostname
        server.hostname = hostname
        server.save(update_fields=["hostname"])
        op = engine.operation_create(server=server, kind=Operation.Kind.RENAME, params={"old_hostname": old}, user=user)
        audit_record(action="server.rename", tenant=server.tenant, request=request, actor=user, obj=server, details={"old": old})
    return op


def server_reinstall(
    *, server: Server, image: Image, password: str = "", ssh_keys: Iterable[SSHKey] = (),
    user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
) -> Operation:
    with transaction.atomic():
        server = lock_server(server)
        require_duty(tenant=server.tenant, action="server_reinstall", user=user)
        validate_server_password(password, hostname=server.hostname)
        ensure_active(server.tenant)
        no_pending(server)
        if image is None or not Image.available_to(server.tenant).filter(pk=image.pk, kind=server.kind).exists():
            raise ValidationError({"image": _("Choose an image of the same kind as the server.")})
        if image.cluster_id != server.cluster_id:
            raise ValidationError({"image": _("This image is not available in the server's location.")})
        if server.disk_gb < image.min_disk_gb:
            raise ValidationError({"image": _("This image needs a disk of at least %(size)s.") % {"size": units.disk(image.min_disk_gb)}})
        if not image.installs_on(server.node):
            raise ValidationError({"image": not_on_node_message(image, server.node)})
        if server.status not in (Server.Status.RUNNING, Server.Status.STOPPED, Server.Status.UNAVAILABLE):
            raise ValidationError(_("This server cannot be reinstalled in its current state."))
        if ssh_keys:
            server.ssh_keys = ssh_key_text(server.tenant, ssh_keys)
        server.image = image
        server.default_user = image.default_user
        server.save(update_fields=["image", "default_user", "ssh_keys"])
        server.transition(Server.Status.BUILDING)
        op = engine.operation_create(server=server, kind=Operation.Kind.REINSTALL, params={"password": encrypt(password)}, user=user)
        audit_record(action="server.reinstall", tenant=server.tenant, request=request, actor=user, obj=server, details={"image": image.name})
    return op


def server_delete(
    *, server: Server, confirm_hostname: str, user: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
) -> Operation:
    with transaction.atomic():
        server = lock_server(server)
        if server.status != Server.Status.FAILED and server.staging_of_id is None:
            # A failed build is only a row, and a staging copy is the customer's own test: clearing
            # either away is nobody's duty.
            require_duty(tenant=server.tenant, action="server_delete", user=user)
        if confirm_hostname != server.hostname:
            raise ValidationError({"confirm_hostname": _("Type the server's hostname to confirm.")})
        no_pending(server)
        if server.status in (Server.Status.DELETING, Server.Status.DELETED):
            raise ValidationError(_("This server is already being deleted."))
        if server.status == Server.Status.FAILED:
            # Nothing exists in Proxmox for a failed build; the row just leaves the list.
            server.transition(Server.Status.DELETED)
            audit_record(action="server.delete", tenant=server.tenant, request=request, actor=user, obj=server)
            return None
        previous = server.status
        server.transition(Server.Status.DELETING)
        op = engine.operation_create(server=server, kind=Operation.Kind.DELETE, params={"previous_status": previous}, user=user)
        audit_record(action="server.delete", tenant=server.tenant, request=request, actor=user, obj=server)
    return op


def operation_retry(
    *, operation: Operation, user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
) -> Operation:
    """Staff: run a failed operation again from the step where it stopped."""
    with transaction.atomic():
        op = Operation.objects.select_for_update().get(pk=operation.pk)
        if op.state != Operation.State.FAILED or op.kind == Operation.Kind.CREATE:
            raise ValidationError(_("Only a failed operation other than a create can be retried."))
        op.state = Operation.State.QUEUED
        op.error = ""
        op.attempts = 0
        op.finished_at = None
        # The failed task's UPID would only be polled to the same failure again; the step runs anew.
        op.upid = ""
        op.upid_node = ""
        op.not_before = None
        op.save(update_fields=["state", "error", "attempts", "finished_at", "upid", "upid_node", "not_before", "updated_at"])
        engine.enqueue_on_commit(op.pk)
        audit_record(action="operation.retry", tenant=op.tenant, request=request, actor=user, obj=op)
    return op
