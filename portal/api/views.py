"""/api/v1/: the same actions as the browser, with the same tenant scoping, roles, quota and audit.

Each view resolves objects through the tenant-scoped lookup (404 for other tenants), checks the
request's role (TenantRole), and calls the one action the browser calls too.
"""

import hashlib
import json
import uuid

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications import actions as notifications
from notifications.models import Delivery, Webhook
from provisioning import actions as provisioning
from provisioning import live
from provisioning.models import Image, Operation, Server
from services.actions import order_create
from services.models import Plan
from tenants import actions as tenant_actions
from tenants.access import get_for_tenant
from tenants.models import Membership, SSHKey

from . import serializers as s
from .authentication import ApiTokenAuthentication, SessionAuthentication
from .errors import PreconditionFailed, PreconditionRequired, error_responses, from_django
from .idempotency import PARAMETER as IDEMPOTENCY_KEY
from .idempotency import idempotent
from .metadata import ApiMetadata
from .pagination import Pagination
from .permissions import TenantRole
from .throttling import TokenRateThrottle, TokenWriteRateThrottle


def call(function, field_map=None, **kwargs):
    """Run an action; its ValidationError becomes a 400 naming the fields, PermissionDenied a 403."""
    try:
        return function(**kwargs)
    except DjangoValidationError as exc:
        raise from_django(exc, field_map) from None
    except provisioning.ManagedByJiku as exc:
        raise exceptions.PermissionDenied(detail=str(exc), code=exc.code) from None
    except DjangoPermissionDenied:
        raise exceptions.PermissionDenied() from None


def _uuid(value, *, field=None):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        if field:
            raise exceptions.ValidationError({field: [_("Enter a valid UUID.")]}) from None
        raise exceptions.NotFound() from None


def _text(request, name):
    """A free-text query parameter; NUL cannot be stored or compared in PostgreSQL, so it is refused."""
    value = request.query_params.get(name)
    if value is not None and "\x00" in value:
        raise exceptions.ValidationError({name: [_("Null characters are not allowed.")]})
    return value


def _choice(request, name, choices):
    value = request.query_params.get(name)
    if value is not None and value not in choices:
        raise exceptions.ValidationError({name: [_("Choose one of: %(choices)s.") % {"choices": ", ".join(choices)}]})
    return value


class ApiViewSet(viewsets.GenericViewSet):
    """The base of every endpoint: token or session auth, tenant roles, per-token throttles, pages.

    Objects are found by their UUID in the `id` URL segment; a malformed or foreign id answers 404.
    """

    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [TenantRole]
    throttle_classes = [TokenRateThrottle, TokenWriteRateThrottle]
    metadata_class = ApiMetadata
    pagination_class = Pagination
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = "[^/]+"

    def tenant_queryset(self):
        """Every endpoint names its tenant-scoped queryset."""
        raise TypeError(f"{type(self).__name__} must define tenant_queryset()")

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return self.tenant_queryset()

    def get_object(self):
        value = _uuid(self.kwargs[self.lookup_url_kwarg])
        obj = get_for_tenant(self.get_queryset(), self.request.tenant, **{self.lookup_field: value})
        self.check_object_permissions(self.request, obj)
        return obj

    def paged(self, queryset, serializer_class):
        page = self.paginate_queryset(queryset)
        context = {"request": self.request, **self.page_context(page)}
        return self.get_paginated_response(serializer_class(page, many=True, context=context).data)

    def page_context(self, page):
        """What the serializer needs for a whole page at once (one cache read, not one per row)."""
        return {}

    def accepted(self, op):
        """202 with the operation to poll, and its address in Location."""
        data = s.OperationSerializer(op).data
        location = self.request.build_absolute_uri(reverse("api:operation-detail", kwargs={"id": op.public_id}))
        return Response(data, status=status.HTTP_202_ACCEPTED, headers={"Location": location})


# --- servers ---------------------------------------------------------------------------------
def server_etag(server):
    """Changes whenever what a client can change does (hostname, size, image); live metrics do not count."""
    state = [server.hostname, server.cores, server.memory_mb, server.disk_gb, server.image_id]
    return '"' + hashlib.sha256(json.dumps(state).encode()).hexdigest()[:32] + '"'


def check_if_match(request, server, *, required):
    header = request.headers.get("If-Match")
    if header is None:
        if required:
            raise PreconditionRequired()
        return
    tags = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    if "*" not in tags and server_etag(server) not in tags:
        raise PreconditionFailed()


IF_MATCH_OPTIONAL = OpenApiParameter(
    "If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="The server's ETag from a GET; if sent and the server changed meanwhile, the answer is 412.",
)
IF_MATCH_REQUIRED = OpenApiParameter(
    "If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, required=True,
    description="The server's ETag from a GET. Without it the answer is 428; if the server changed "
    "meanwhile, 412.",
)
ETAG_HEADER = OpenApiParameter(
    "ETag", OpenApiTypes.STR, OpenApiParameter.HEADER, response=[200],
    description="Version of the server's configuration, for If-Match.",
)
LOCATION_HEADER = OpenApiParameter(
    "Location", OpenApiTypes.URI, OpenApiParameter.HEADER, response=[202],
    description="Address of the operation to poll.",
)
ACCEPTED = OpenApiResponse(s.OperationSerializer, description="Accepted: poll the operation until it has finished.")


def _accepted(*errors, extra=None):
    return {202: ACCEPTED, **(extra or {}), **error_responses(*errors)}


@extend_schema_view(
    list=extend_schema(
        summary="List servers",
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=[c for c in Server.Status.values if c != "deleted"]),
            OpenApiParameter("kind", OpenApiTypes.STR, enum=Server.Kind.values),
            OpenApiParameter("hostname", OpenApiTypes.STR, description="Exact hostname."),
            OpenApiParameter("search", OpenApiTypes.STR, description="Part of the hostname."),
        ],
        responses={200: s.ServerSerializer(many=True), **error_responses(400, 404)},
    ),
)
class ServerViewSet(ApiViewSet):
    """Your servers and containers. Changes answer 202 with the operation that carries them out."""

    queryset = Server.objects.none()
    serializer_class = s.ServerSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def tenant_queryset(self):
        return (
            Server.objects.for_tenant(self.request.tenant)
            .exclude(status=Server.Status.DELETED)
            .select_related("image", "order__plan")
            .order_by("hostname")
        )

    def page_context(self, page):
        return {"live": live.for_servers(page)}

    def list(self, request):
        qs = self.get_queryset()
        if value := _choice(request, "status", [c for c in Server.Status.values if c != "deleted"]):
            qs = qs.filter(status=value)
        if value := _choice(request, "kind", Server.Kind.values):
            qs = qs.filter(kind=value)
        if (value := _text(request, "hostname")) is not None:
            qs = qs.filter(hostname=value)
        if value := _text(request, "search"):
            qs = qs.filter(hostname__icontains=value)
        return self.paged(qs, s.ServerSerializer)

    @extend_schema(
        summary="Order a server from a plan and an image",
        request=s.ServerCreateSerializer,
        parameters=[IDEMPOTENCY_KEY, LOCATION_HEADER],
        responses=_accepted(400, 409, 422),
    )
    @idempotent
    def create(self, request):
        data = self._valid(s.ServerCreateSerializer, request.data)
        tenant = request.tenant
        plan = Plan.objects.filter(public_id=data["plan"], active=True).first()
        if plan is None:
            raise exceptions.ValidationError({"plan": [_("Choose one of the offered plans.")]})
        image = Image.available_to(tenant).filter(public_id=data["image"]).first()
        if image is None:
            raise exceptions.ValidationError({"image": [_("Choose one of the offered images.")]})
        keys = self._ssh_keys(data["ssh_keys"])
        order = call(
            order_create, field_map={"cores": "plan", "memory_mb": "plan", "disk_gb": "plan"},
            tenant=tenant, plan=plan, image=image, hostname=data["hostname"], ssh_keys=keys,
            password=data["password"], user=request.user, request=request,
        )
        return self.accepted(order.server.operations.order_by("id").first())

    @extend_schema(
        summary="Show a server",
        parameters=[
            ETAG_HEADER,
            OpenApiParameter("If-None-Match", OpenApiTypes.STR, OpenApiParameter.HEADER,
                             description="An ETag; if it is still current the answer is 304 without a body."),
        ],
        responses={200: s.ServerSerializer, 304: OpenApiResponse(description="Not modified."),
                   **error_responses(404)},
    )
    def retrieve(self, request, id=None):
        server = self.get_object()
        etag = server_etag(server)
        if etag in [tag.strip().removeprefix("W/") for tag in request.headers.get("If-None-Match", "").split(",")]:
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        return Response(s.ServerSerializer(server).data, headers={"ETag": etag})

    @extend_schema(
        summary="Rename a server",
        description="Only the hostname can be changed this way; resize and reinstall are actions.",
        request=s.ServerUpdateSerializer,
        parameters=[IF_MATCH_REQUIRED, LOCATION_HEADER],
        responses=_accepted(400, 404, 412, 428),
    )
    def partial_update(self, request, id=None):
        server = self.get_object()
        data = self._valid(s.ServerUpdateSerializer, request.data)
        with transaction.atomic():
            locked = Server.objects.select_for_update().get(pk=server.pk)
            check_if_match(request, locked, required=True)
            op = call(provisioning.server_rename, server=locked, hostname=data["hostname"], user=request.user,
                      request=request)
        return self.accepted(op)

    @extend_schema(
        summary="Delete a server",
        description="Deletes the server and its disks in Proxmox. A server whose build failed is removed at "
        "once (204); otherwise the answer is the delete operation (202).",
        parameters=[IF_MATCH_OPTIONAL, LOCATION_HEADER],
        responses=_accepted(400, 404, 412, extra={204: OpenApiResponse(description="Removed at once.")}),
    )
    def destroy(self, request, id=None):
        server = self.get_object()
        with transaction.atomic():
            locked = Server.objects.select_for_update().get(pk=server.pk)
            check_if_match(request, locked, required=False)
            op = call(provisioning.server_delete, server=locked, confirm_hostname=locked.hostname,
                      user=request.user, request=request)
        if op is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return self.accepted(op)

    def _power(self, request, kind):
        server = self.get_object()
        return self.accepted(call(provisioning.server_power, server=server, action=kind, user=request.user,
                                  request=request))

    _power_schema = {
        "request": None,
        "parameters": [IDEMPOTENCY_KEY, LOCATION_HEADER],
        "responses": _accepted(400, 404, 409, 422),
    }

    @extend_schema(summary="Start a stopped server", **_power_schema)
    @action(detail=True, methods=["post"])
    @idempotent
    def start(self, request, id=None):
        return self._power(request, Operation.Kind.START)

    @extend_schema(summary="Stop a running server at once (like pulling the plug)", **_power_schema)
    @action(detail=True, methods=["post"])
    @idempotent
    def stop(self, request, id=None):
        return self._power(request, Operation.Kind.STOP)

    @extend_schema(summary="Shut a running server down cleanly", **_power_schema)
    @action(detail=True, methods=["post"])
    @idempotent
    def shutdown(self, request, id=None):
        return self._power(request, Operation.Kind.SHUTDOWN)

    @extend_schema(summary="Reboot a running server", **_power_schema)
    @action(detail=True, methods=["post"])
    @idempotent
    def reboot(self, request, id=None):
        return self._power(request, Operation.Kind.REBOOT)

    @extend_schema(
        summary="Resize a server", description="Disks can only grow. The new size counts against the quota.",
        request=s.ResizeSerializer, parameters=[IF_MATCH_OPTIONAL, IDEMPOTENCY_KEY, LOCATION_HEADER],
        responses=_accepted(400, 404, 409, 412, 422),
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def resize(self, request, id=None):
        server = self.get_object()
        data = self._valid(s.ResizeSerializer, request.data)
        with transaction.atomic():
            locked = Server.objects.select_for_update().get(pk=server.pk)
            check_if_match(request, locked, required=False)
            op = call(provisioning.server_resize, server=locked, user=request.user, request=request, **data)
        return self.accepted(op)

    @extend_schema(
        summary="Reinstall a server from an image", description="Erases all data on the server.",
        request=s.ReinstallSerializer, parameters=[IF_MATCH_OPTIONAL, IDEMPOTENCY_KEY, LOCATION_HEADER],
        responses=_accepted(400, 404, 409, 412, 422),
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def reinstall(self, request, id=None):
        server = self.get_object()
        data = self._valid(s.ReinstallSerializer, request.data)
        image = Image.available_to(request.tenant).filter(public_id=data["image"]).first()
        if image is None:
            raise exceptions.ValidationError({"image": [_("Choose an image of the same kind as the server.")]})
        keys = self._ssh_keys(data["ssh_keys"])
        with transaction.atomic():
            locked = Server.objects.select_for_update().get(pk=server.pk)
            check_if_match(request, locked, required=False)
            op = call(provisioning.server_reinstall, server=locked, image=image, password=data["password"],
                      ssh_keys=keys, user=request.user, request=request)
        return self.accepted(op)

    @extend_schema(summary="Take a safety snapshot before an update (the newest two are kept)", **_power_schema)
    @action(detail=True, methods=["post"], url_path="snapshot-before-update")
    @idempotent
    def snapshot_before_update(self, request, id=None):
        return self.accepted(call(provisioning.snapshot_before_update, server=self.get_object(), user=request.user,
                                  request=request))

    @extend_schema(summary="Switch high availability on or off", request=s.SwitchSerializer,
                   parameters=[IDEMPOTENCY_KEY, LOCATION_HEADER], responses=_accepted(400, 404, 409, 422))
    @action(detail=True, methods=["post"])
    @idempotent
    def ha(self, request, id=None):
        server = self.get_object()  # a foreign server answers 404 before the body is even read
        data = self._valid(s.SwitchSerializer, request.data)
        return self.accepted(call(provisioning.ha_set, server=server, enabled=data["enabled"],
                                  user=request.user, request=request))

    @extend_schema(summary="Create a staging copy (a full clone with its own name and address)", **_power_schema)
    @action(detail=True, methods=["post"])
    @idempotent
    def staging(self, request, id=None):
        return self.accepted(call(provisioning.staging_create, server=self.get_object(), user=request.user,
                                  request=request))

    @extend_schema(
        summary="Promote a staging copy to production",
        description="The copy takes over name, address, backup schedule and high availability; the old server "
        "keeps a safety snapshot and the backups made so far.", **_power_schema,
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def promote(self, request, id=None):
        return self.accepted(call(provisioning.staging_promote, staging=self.get_object(), user=request.user,
                                  request=request))

    @extend_schema(
        summary="Restart automatically when the server stops unexpectedly",
        request=s.SwitchSerializer, responses={200: s.ServerSerializer, **error_responses(400, 404)},
    )
    @action(detail=True, methods=["post"], url_path="auto-restart")
    def auto_restart(self, request, id=None):
        server = self.get_object()
        data = self._valid(s.SwitchSerializer, request.data)
        server = call(provisioning.server_set_auto_restart, server=server, enabled=data["enabled"],
                      user=request.user, request=request)
        return Response(s.ServerSerializer(server).data)

    def _valid(self, serializer_class, data):
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def _ssh_keys(self, ids):
        keys = list(SSHKey.objects.for_tenant(self.request.tenant).filter(id__in=ids))
        if len(keys) != len(set(ids)):
            raise exceptions.ValidationError({"ssh_keys": [_("Select SSH keys of your own tenant.")]})
        return keys


class ServerChildViewSet(ApiViewSet):
    """Base for endpoints under /servers/{server_id}/... (snapshots, backups): the server is looked up
    in the request's tenant first, so a foreign server answers 404 before anything else happens."""

    def get_server(self):
        if not hasattr(self, "_server"):
            qs = Server.objects.exclude(status=Server.Status.DELETED)
            self._server = get_for_tenant(qs, self.request.tenant, public_id=_uuid(self.kwargs["server_id"]))
        return self._server


# --- operations ------------------------------------------------------------------------------
@extend_schema_view(
    list=extend_schema(
        summary="List operations, newest first",
        parameters=[
            OpenApiParameter("server", OpenApiTypes.UUID, description="Only this server's operations."),
            OpenApiParameter("state", OpenApiTypes.STR, enum=Operation.State.values),
            OpenApiParameter("kind", OpenApiTypes.STR, enum=Operation.Kind.values),
        ],
        responses={200: s.OperationSerializer(many=True), **error_responses(400, 404)},
    ),
    retrieve=extend_schema(
        summary="Show an operation: state, current step and Proxmox's error text",
        responses={200: s.OperationSerializer, **error_responses(404)},
    ),
)
class OperationViewSet(ApiViewSet):
    """What the portal is doing or did on your servers, step by step."""

    queryset = Operation.objects.none()
    serializer_class = s.OperationSerializer

    def tenant_queryset(self):
        return Operation.objects.for_tenant(self.request.tenant).select_related("server").order_by("-id")

    def list(self, request):
        qs = self.get_queryset()
        if (value := request.query_params.get("server")) is not None:
            qs = qs.filter(server__public_id=_uuid(value, field="server"))
        if value := _choice(request, "state", Operation.State.values):
            qs = qs.filter(state=value)
        if value := _choice(request, "kind", Operation.Kind.values):
            qs = qs.filter(kind=value)
        return self.paged(qs, s.OperationSerializer)

    def retrieve(self, request, id=None):
        return Response(s.OperationSerializer(self.get_object()).data)


# --- catalogue -------------------------------------------------------------------------------
KIND_FILTER = OpenApiParameter("kind", OpenApiTypes.STR, enum=Server.Kind.values)


@extend_schema_view(
    list=extend_schema(summary="List the plans on offer", parameters=[KIND_FILTER],
                       responses={200: s.PlanSerializer(many=True), **error_responses(400, 404)}),
    retrieve=extend_schema(summary="Show a plan", responses={200: s.PlanSerializer, **error_responses(404)}),
)
class PlanViewSet(ApiViewSet):
    """The sizes on offer, with their monthly net prices."""

    queryset = Plan.objects.none()
    serializer_class = s.PlanSerializer

    def tenant_queryset(self):
        return Plan.objects.filter(active=True)

    def get_object(self):
        obj = Plan.objects.filter(active=True, public_id=_uuid(self.kwargs["id"])).first()
        if obj is None:
            raise exceptions.NotFound()
        return obj

    def list(self, request):
        qs = self.get_queryset()
        if value := _choice(request, "kind", Server.Kind.values):
            qs = qs.filter(kind=value)
        return self.paged(qs, s.PlanSerializer)

    def retrieve(self, request, id=None):
        return Response(s.PlanSerializer(self.get_object()).data)


@extend_schema_view(
    list=extend_schema(summary="List the images you can install", parameters=[KIND_FILTER],
                       responses={200: s.ImageSerializer(many=True), **error_responses(400, 404)}),
    retrieve=extend_schema(summary="Show an image", responses={200: s.ImageSerializer, **error_responses(404)}),
)
class ImageViewSet(ApiViewSet):
    """Operating system images: JIKU's and your tenant's own templates."""

    queryset = Image.objects.none()
    serializer_class = s.ImageSerializer

    def tenant_queryset(self):
        return Image.available_to(self.request.tenant).select_related("cluster").order_by("kind", "name", "id")

    def get_object(self):
        obj = self.get_queryset().filter(public_id=_uuid(self.kwargs["id"])).first()
        if obj is None:
            raise exceptions.NotFound()
        return obj

    def list(self, request):
        qs = self.get_queryset()
        if value := _choice(request, "kind", Image.Kind.values):
            qs = qs.filter(kind=value)
        return self.paged(qs, s.ImageSerializer)

    def retrieve(self, request, id=None):
        return Response(s.ImageSerializer(self.get_object()).data)


# --- SSH keys and team -----------------------------------------------------------------------
@extend_schema_view(
    list=extend_schema(summary="List the tenant's SSH keys",
                       responses={200: s.SSHKeySerializer(many=True), **error_responses(404)}),
    retrieve=extend_schema(summary="Show an SSH key", responses={200: s.SSHKeySerializer, **error_responses(404)}),
)
class SSHKeyViewSet(ApiViewSet):
    """Public keys that can be put on new servers."""

    queryset = SSHKey.objects.none()
    serializer_class = s.SSHKeySerializer
    lookup_field = "id"

    def tenant_queryset(self):
        return SSHKey.objects.for_tenant(self.request.tenant).select_related("user").order_by("name", "id")

    def list(self, request):
        return self.paged(self.get_queryset(), s.SSHKeySerializer)

    def retrieve(self, request, id=None):
        return Response(s.SSHKeySerializer(self.get_object()).data)

    @extend_schema(summary="Add an SSH key", request=s.SSHKeyCreateSerializer, parameters=[IDEMPOTENCY_KEY],
                   responses={201: s.SSHKeySerializer, **error_responses(400, 409, 422)})
    @idempotent
    def create(self, request):
        serializer = s.SSHKeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key = call(tenant_actions.ssh_key_add, tenant=request.tenant, user=request.user, request=request,
                   **serializer.validated_data)
        return Response(s.SSHKeySerializer(key).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Delete an SSH key",
                   description="Your own keys; admins and owners may delete any key of the tenant.",
                   responses={204: OpenApiResponse(description="Deleted."), **error_responses(404)})
    def destroy(self, request, id=None):
        key = self.get_object()
        # The action checks the user's role; the token's (perhaps lower) role is checked here.
        if key.user_id != request.user.pk and not request.membership.can("manage_team"):
            raise exceptions.PermissionDenied()
        call(tenant_actions.ssh_key_delete, key=key, by=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="List the tenant's members",
                       responses={200: s.MemberSerializer(many=True), **error_responses(404)}),
    retrieve=extend_schema(summary="Show a member", responses={200: s.MemberSerializer, **error_responses(404)}),
)
class MemberViewSet(ApiViewSet):
    """The tenant's team (read only; manage it in the portal)."""

    queryset = Membership.objects.none()
    serializer_class = s.MemberSerializer

    def tenant_queryset(self):
        return Membership.objects.for_tenant(self.request.tenant).select_related("user").order_by("user__email")

    def list(self, request):
        return self.paged(self.get_queryset(), s.MemberSerializer)

    def retrieve(self, request, id=None):
        return Response(s.MemberSerializer(self.get_object()).data)


# --- webhooks ----------------------------------------------------------------------------------
MANAGE = "manage_team"


@extend_schema_view(
    list=extend_schema(summary="List the tenant's webhooks",
                       responses={200: s.WebhookSerializer(many=True), **error_responses(404)}),
    retrieve=extend_schema(summary="Show a webhook", responses={200: s.WebhookSerializer, **error_responses(404)}),
)
class WebhookViewSet(ApiViewSet):
    """Receivers of the tenant's events (owners and admins): JSON POSTs signed with HMAC-SHA256 in
    `X-Portal-Signature: t=<unix time>,v1=<hex HMAC of "<t>.<body>">`, retried with backoff."""

    queryset = Webhook.objects.none()
    serializer_class = s.WebhookSerializer
    required_permissions = {action: MANAGE for action in ("list", "retrieve", "create", "destroy", "test", "deliveries",
                                                          "rotate_secret")}

    def tenant_queryset(self):
        return Webhook.objects.for_tenant(self.request.tenant).order_by("created_at", "id")

    def list(self, request):
        return self.paged(self.get_queryset(), s.WebhookSerializer)

    def retrieve(self, request, id=None):
        return Response(s.WebhookSerializer(self.get_object()).data)

    @extend_schema(summary="Register a webhook", request=s.WebhookCreateSerializer, parameters=[IDEMPOTENCY_KEY],
                   responses={201: s.WebhookSecretSerializer, **error_responses(400, 409, 422)})
    @idempotent
    def create(self, request):
        serializer = s.WebhookCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        hook = call(notifications.webhook_create, tenant=request.tenant, by=request.user, request=request,
                    **serializer.validated_data)
        response = Response(s.WebhookSecretSerializer(hook).data, status=status.HTTP_201_CREATED)
        # A replay answers without the secret (it is stored encrypted only): rotate it if the first answer was lost.
        response.replay_data = s.WebhookSerializer(hook).data
        return response

    @extend_schema(summary="Give the webhook a new secret, shown only in this answer", request=None,
                   responses={200: s.WebhookSecretSerializer, **error_responses(400, 404)})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, id=None):
        # Not idempotent on purpose: the answer holds the secret, and a replay store would keep it.
        hook = call(notifications.webhook_rotate_secret, webhook=self.get_object(), by=request.user, request=request)
        return Response(s.WebhookSecretSerializer(hook).data)

    @extend_schema(summary="Remove a webhook", responses={204: OpenApiResponse(description="Removed."),
                                                           **error_responses(404)})
    def destroy(self, request, id=None):
        call(notifications.webhook_delete, webhook=self.get_object(), by=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Send a test event to this webhook", request=None, parameters=[IDEMPOTENCY_KEY],
                   responses={202: OpenApiResponse(description="The test event is on its way; see its deliveries."),
                              **error_responses(400, 404, 409, 422)})
    @action(detail=True, methods=["post"])
    @idempotent
    def test(self, request, id=None):
        call(notifications.webhook_send_test, webhook=self.get_object(), by=request.user)
        return Response(status=status.HTTP_202_ACCEPTED)

    @extend_schema(summary="The webhook's delivery log, newest first",
                   responses={200: s.WebhookDeliverySerializer(many=True), **error_responses(404)})
    @action(detail=True, methods=["get"])
    def deliveries(self, request, id=None):
        hook = self.get_object()
        log = Delivery.objects.filter(webhook=hook).select_related("event").order_by("-created_at", "-id")
        return self.paged(log, s.WebhookDeliverySerializer)


# --- quota and identity ----------------------------------------------------------------------
class _Single(APIView):
    authentication_classes = ApiViewSet.authentication_classes
    permission_classes = ApiViewSet.permission_classes
    throttle_classes = ApiViewSet.throttle_classes
    metadata_class = ApiViewSet.metadata_class


class QuotaView(_Single):
    @extend_schema(summary="The tenant's limits and what its servers use",
                   responses={200: s.QuotaSerializer, **error_responses()})
    def get(self, request):
        tenant = request.tenant
        used = provisioning.quota_usage(tenant)
        limits = {
            "servers": tenant.max_servers, "cores": tenant.max_cores, "memory_mb": tenant.max_memory_mb,
            "disk_gb": tenant.max_disk_gb, "snapshots_per_server": tenant.max_snapshots_per_server,
            "backups_per_server": tenant.max_backups_per_server,
        }
        return Response(s.QuotaSerializer({"limits": limits, "used": used}).data)


class MeView(_Single):
    @extend_schema(summary="Who is asking: user, tenant, the role in effect and the token",
                   responses={200: s.MeSerializer, **error_responses()})
    def get(self, request):
        data = {
            "email": request.user.email,
            "tenant": request.tenant,
            "role": request.membership.role,
            "token": getattr(request, "api_token", None),
        }
        return Response(s.MeSerializer(data).data)
