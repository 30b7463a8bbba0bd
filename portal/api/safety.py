"""/api/v1/ for the safety net: snapshots and backup policy under a server, backups of the tenant."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from provisioning import actions as provisioning
from provisioning.models import Backup, BackupPolicy, Snapshot

from .errors import error_responses
from .idempotency import PARAMETER as IDEMPOTENCY_KEY
from .idempotency import idempotent
from .serializers import OperationSerializer
from .views import ApiViewSet, ServerChildViewSet, _uuid, call

ACCEPTED = OpenApiResponse(OperationSerializer, description="Accepted: poll the operation until it has finished.")


def _accepted(*errors):
    return {202: ACCEPTED, **error_responses(*errors)}


class SnapshotSerializer(serializers.ModelSerializer):
    class Meta:
        model = Snapshot
        fields = ["name", "description", "include_ram", "parent", "ready", "created_at"]
        read_only_fields = ["parent", "ready", "created_at"]


class RollbackSerializer(serializers.Serializer):
    start = serializers.BooleanField(default=False, help_text="Start the server after the rollback.")


class BackupSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    server = serializers.SerializerMethodField()

    class Meta:
        model = Backup
        fields = ["id", "server", "hostname", "kind", "size_bytes", "notes", "protected", "scheduled", "created_at",
                  "expires_at"]
        read_only_fields = fields

    def get_server(self, backup) -> str | None:
        return str(backup.server.public_id) if backup.server_id and backup.server.status != "deleted" else None


class BackupCreateSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=["snapshot", "suspend", "stop"], default="snapshot")
    notes = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    protected = serializers.BooleanField(default=False)


class RestoreSerializer(serializers.Serializer):
    target = serializers.ChoiceField(choices=["new", "same"], help_text="A new server, or over the original one.")
    hostname = serializers.CharField(max_length=63, required=False, allow_blank=True, default="")
    confirm = serializers.BooleanField(default=False, help_text="Required for `same`: the server's data is replaced.")


class ProtectSerializer(serializers.Serializer):
    protected = serializers.BooleanField()


@extend_schema_field({"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d$", "example": "02:00"})
class ClockTime(serializers.TimeField):
    """A time of day as HH:MM. OpenAPI's `time` format means RFC 3339 with a UTC offset, which a
    schedule in the tenant's local time does not have (and an unsaved policy's default is text)."""

    def __init__(self, **kwargs):
        super().__init__(format="%H:%M", input_formats=["%H:%M", "%H:%M:%S"], **kwargs)

    def to_representation(self, value):
        return value[:5] if isinstance(value, str) else super().to_representation(value)


class PolicySerializer(serializers.ModelSerializer):
    time = ClockTime(required=False, help_text="Local time of day, HH:MM.")

    class Meta:
        model = BackupPolicy
        fields = ["enabled", "frequency", "weekday", "time", "keep_last", "keep_daily", "keep_weekly", "keep_monthly",
                  "last_run_at", "last_status", "last_error"]
        read_only_fields = ["last_run_at", "last_status", "last_error"]


def _valid(serializer_class, data):
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


@extend_schema_view(
    list=extend_schema(summary="List a server's snapshots", responses={200: SnapshotSerializer(many=True), **error_responses(404)}),
)
class SnapshotViewSet(ServerChildViewSet):
    """Snapshots of one server, named as Proxmox names them."""

    queryset = Snapshot.objects.none()
    serializer_class = SnapshotSerializer
    lookup_url_kwarg = "name"
    lookup_value_regex = "[^/]+"

    def tenant_queryset(self):
        return self.get_server().snapshots.all()

    def list(self, request, server_id=None):
        return self.paged(self.get_queryset(), SnapshotSerializer)

    @extend_schema(summary="Take a snapshot", request=SnapshotSerializer, parameters=[IDEMPOTENCY_KEY], responses=_accepted(400, 404, 409, 422))
    @idempotent
    def create(self, request, server_id=None):
        server = self.get_server()  # a foreign server answers 404 before the body is even read
        data = _valid(SnapshotSerializer, request.data)
        return self.accepted(call(provisioning.snapshot_create, server=server, user=request.user, request=request, **data))

    @extend_schema(summary="Roll the server back to this snapshot", request=RollbackSerializer, parameters=[IDEMPOTENCY_KEY], responses=_accepted(400, 404, 409, 422))
    @action(detail=True, methods=["post"])
    @idempotent
    def rollback(self, request, server_id=None, name=None):
        server = self.get_server()
        data = _valid(RollbackSerializer, request.data)
        return self.accepted(call(provisioning.snapshot_rollback, server=server, name=name, user=request.user, request=request, **data))

    @extend_schema(summary="Delete a snapshot", responses=_accepted(400, 404))
    def destroy(self, request, server_id=None, name=None):
        return self.accepted(call(provisioning.snapshot_delete, server=self.get_server(), name=name, user=request.user, request=request))


class ServerBackupViewSet(ServerChildViewSet):
    """Backups started for one server, and its schedule."""

    queryset = Backup.objects.none()
    serializer_class = BackupSerializer

    def tenant_queryset(self):
        return self.get_server().backups.kept()

    @extend_schema(summary="List a server's backups", responses={200: BackupSerializer(many=True), **error_responses(404)})
    def list(self, request, server_id=None):
        return self.paged(self.get_queryset().select_related("server"), BackupSerializer)

    @extend_schema(summary="Back the server up now", request=BackupCreateSerializer, parameters=[IDEMPOTENCY_KEY], responses=_accepted(400, 404, 409, 422))
    @idempotent
    def create(self, request, server_id=None):
        server = self.get_server()
        data = _valid(BackupCreateSerializer, request.data)
        return self.accepted(call(provisioning.backup_create, server=server, user=request.user, request=request, **data))

    @extend_schema(methods=["GET"], summary="Show the backup schedule", responses={200: PolicySerializer, **error_responses(404)})
    @extend_schema(methods=["PUT"], summary="Set the backup schedule", request=PolicySerializer, responses={200: PolicySerializer, **error_responses(400, 404)})
    @action(detail=False, methods=["get", "put"], url_path="policy")
    def policy(self, request, server_id=None):
        server = self.get_server()
        if request.method == "PUT":
            data = _valid(PolicySerializer, request.data)
            call(provisioning.backup_policy_set, server=server, user=request.user, request=request, **data)
        policy = BackupPolicy.objects.filter(server=server).first() or BackupPolicy(server=server, enabled=False)
        return Response(PolicySerializer(policy).data)


@extend_schema_view(
    list=extend_schema(
        summary="List the tenant's backups, including those of deleted servers",
        parameters=[OpenApiParameter("server", OpenApiTypes.UUID, description="Only this server's backups.")],
        responses={200: BackupSerializer(many=True), **error_responses(400, 404)},
    ),
    retrieve=extend_schema(summary="Show a backup", responses={200: BackupSerializer, **error_responses(404)}),
)
class BackupViewSet(ApiViewSet):
    """Backups outlive their server for the retention period and restore into a new one."""

    queryset = Backup.objects.none()
    serializer_class = BackupSerializer

    def tenant_queryset(self):
        return Backup.objects.for_tenant(self.request.tenant).kept().select_related("server").order_by("-created_at")

    def list(self, request):
        qs = self.get_queryset()
        if (value := request.query_params.get("server")) is not None:
            qs = qs.filter(server__public_id=_uuid(value, field="server"))
        return self.paged(qs, BackupSerializer)

    def retrieve(self, request, id=None):
        return Response(BackupSerializer(self.get_object()).data)

    @extend_schema(summary="Restore a backup", request=RestoreSerializer, parameters=[IDEMPOTENCY_KEY], responses=_accepted(400, 404, 409, 422))
    @action(detail=True, methods=["post"])
    @idempotent
    def restore(self, request, id=None):
        backup = self.get_object()
        data = _valid(RestoreSerializer, request.data)
        return self.accepted(call(provisioning.backup_restore, backup=backup, user=request.user, request=request, **data))

    @extend_schema(summary="Protect or unprotect a backup", request=ProtectSerializer, parameters=[IDEMPOTENCY_KEY], responses=_accepted(400, 404, 409, 422))
    @action(detail=True, methods=["post"])
    @idempotent
    def protect(self, request, id=None):
        backup = self.get_object()
        data = _valid(ProtectSerializer, request.data)
        return self.accepted(call(provisioning.backup_protect, backup=backup, user=request.user, request=request, **data))

    @extend_schema(summary="Delete a backup", responses=_accepted(400, 404))
    def destroy(self, request, id=None):
        return self.accepted(call(provisioning.backup_delete, backup=self.get_object(), user=request.user, request=request))


# server_id takes any segment, dots included, so a malformed id reaches the tenant lookup's 404 like
# /servers/{id}/ does (DRF's usual [^/.]+ is for format suffixes, which this API does not use).
SAFETY_ROUTES = [
    (r"servers/(?P<server_id>[^/]+)/snapshots", SnapshotViewSet, "server-snapshot"),
    (r"servers/(?P<server_id>[^/]+)/backups", ServerBackupViewSet, "server-backup"),
    (r"backups", BackupViewSet, "backup"),
]
