"""What the API shows and accepts. Objects are named by their public UUIDs, never by row ids."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from notifications.models import Delivery, Webhook
from provisioning import live
from provisioning.models import Image, Operation, Server
from provisioning.operations import step_label
from services.models import Licence, Plan
from tenants.models import Membership, SSHKey

NULLABLE_UUID = serializers.UUIDField(allow_null=True)


class PlanSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Plan
        fields = ["id", "name", "slug", "kind", "cores", "memory_mb", "disk_gb", "backup_slots", "snapshot_slots",
                  "price_monthly"]


class LicenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Licence
        fields = ["code", "name", "metric", "pack_cores", "minimum_cores", "price_monthly"]


class ImageSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    licences = serializers.SerializerMethodField(
        help_text="Licences every server from this image is charged (Windows Server per pack of cores, with a minimum).")
    location = serializers.CharField(source="cluster.name", read_only=True)
    own = serializers.SerializerMethodField(help_text="True for your tenant's own templates.")
    placement_nodes = serializers.ListField(
        child=serializers.CharField(), read_only=True, allow_null=True,
        help_text="The nodes a server from this image can be placed on (where its files are); null means any node.",
    )

    class Meta:
        model = Image
        fields = ["id", "name", "kind", "source", "description", "checksum", "oci_reference", "placement_nodes", "os_family",
                  "default_user", "cloud_init", "min_disk_gb", "location", "own", "licences"]

    def get_own(self, image) -> bool:
        return image.tenant_id is not None

    @extend_schema_field(LicenceSerializer(many=True))
    def get_licences(self, image):
        if not image.os_family:
            return []
        # One query for a whole list of images, not one per image.
        by_family = self.context.get("_core_licences")
        if by_family is None:
            by_family = self.context["_core_licences"] = {}
            for licence in Licence.objects.filter(active=True, metric=Licence.Metric.PER_CORE):
                by_family.setdefault(licence.os_family, []).append(licence)
        return LicenceSerializer(by_family.get(image.os_family, []), many=True).data


class ServerSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    image = serializers.SerializerMethodField()
    plan = serializers.SerializerMethodField()
    status_reason = serializers.CharField(source="reason", read_only=True, help_text="Why, in the request's language.")
    requested_state = serializers.SerializerMethodField(
        help_text="running or stopped: what was asked for last. With status stopped and requested_state running, "
                  "the server stopped unexpectedly."
    )
    stopped_unexpectedly = serializers.BooleanField(read_only=True)
    cpu_usage = serializers.SerializerMethodField(help_text="CPU use 0..1 at the last reconcile (about a minute ago).")
    memory_used_mb = serializers.SerializerMethodField()
    uptime = serializers.SerializerMethodField(help_text="Seconds since it started, at the last reconcile.")
    last_seen_at = serializers.SerializerMethodField(help_text="When the portal last read it from Proxmox.")

    class Meta:
        model = Server
        fields = ["id", "hostname", "kind", "status", "status_reason", "requested_state", "stopped_unexpectedly",
                  "auto_restart", "plan", "image", "cores", "memory_mb", "disk_gb", "ipv4", "ipv6", "ipv6_prefix", "default_user",
                  "ha_enabled",
                  "cpu_usage", "memory_used_mb", "uptime", "created_at", "last_seen_at"]
        read_only_fields = fields

    def _live(self, server):
        """The live figures from the cache: the view passes them for a whole page in its context."""
        figures = self.context.get("live")
        if figures is None or server.pk not in figures:
            figures = live.for_servers([server])
        return figures.get(server.pk, live.NOTHING)

    def get_cpu_usage(self, server) -> float:
        return self._live(server).cpu

    def get_memory_used_mb(self, server) -> int:
        return self._live(server).memory_used_mb

    def get_uptime(self, server) -> int:
        return self._live(server).uptime

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_last_seen_at(self, server):
        seen = self._live(server).seen_at
        return seen.isoformat().replace("+00:00", "Z") if seen else None

    def get_requested_state(self, server) -> str:
        return "running" if server.should_run else "stopped"

    @extend_schema_field(NULLABLE_UUID)
    def get_image(self, server):
        return server.image.public_id if server.image_id else None

    @extend_schema_field(NULLABLE_UUID)
    def get_plan(self, server):
        order = getattr(server, "order", None)
        return order.plan.public_id if order is not None else None


class OperationSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    server = serializers.SerializerMethodField()
    step_label = serializers.SerializerMethodField(help_text="The current step, in the request's language.")
    progress_percent = serializers.IntegerField(read_only=True)
    error = serializers.CharField(
        source="customer_error", read_only=True,
        help_text="Why the operation failed, in the request's language (JIKU's staff see Proxmox's own text).",
    )

    class Meta:
        model = Operation
        fields = ["id", "server", "kind", "state", "step", "step_count", "step_name", "step_label",
                  "progress_percent", "error", "created_at", "started_at", "finished_at"]
        read_only_fields = fields

    @extend_schema_field(NULLABLE_UUID)
    def get_server(self, op):
        return op.server.public_id if op.server_id else None

    def get_step_label(self, op) -> str:
        return str(step_label(op))


def _keys_field():
    return serializers.ListField(
        child=serializers.UUIDField(), required=False, default=list,
        help_text="Ids of your tenant's SSH keys to install.",
    )


class ServerCreateSerializer(serializers.Serializer):
    plan = serializers.UUIDField(help_text="Id of an offered plan (GET /plans/).")
    image = serializers.UUIDField(help_text="Id of an image of the plan's kind (GET /images/).")
    hostname = serializers.CharField(max_length=63)
    ssh_keys = _keys_field()
    password = serializers.CharField(
        write_only=True, required=False, allow_blank=True, default="", max_length=128,
        help_text="Optional with SSH keys; at least 8 characters.",
    )

    def validate_hostname(self, value):
        return value.strip().lower()

    def validate(self, data):
        if not data.get("ssh_keys") and not data.get("password"):
            raise serializers.ValidationError(
                _("Choose at least one SSH key or set a password, or you cannot log in.")
            )
        return data


class ServerUpdateSerializer(serializers.Serializer):
    hostname = serializers.CharField(max_length=63)

    def validate_hostname(self, value):
        return value.strip().lower()


class ResizeSerializer(serializers.Serializer):
    # Proxmox's units, unlike the portal's forms (GB): a script reads them as the Proxmox API does.
    cores = serializers.IntegerField(min_value=1, max_value=64)
    memory_mb = serializers.IntegerField(min_value=256, max_value=524288,
                                         help_text="Memory in MiB, as Proxmox counts it (1 GB = 1024 MiB).")
    disk_gb = serializers.IntegerField(min_value=1, max_value=4096, help_text="Disk in GiB; a disk only grows.")


class ReinstallSerializer(serializers.Serializer):
    image = serializers.UUIDField(help_text="Id of an image of the server's kind and location.")
    password = serializers.CharField(
        write_only=True, required=False, allow_blank=True, default="", max_length=128
    )
    ssh_keys = _keys_field()


class SwitchSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()


class SSHKeySerializer(serializers.ModelSerializer):
    added_by = serializers.SerializerMethodField()

    class Meta:
        model = SSHKey
        fields = ["id", "name", "key_type", "fingerprint", "public_key", "added_by", "created_at"]
        read_only_fields = fields

    def get_added_by(self, key) -> str | None:
        return key.user.email if key.user_id else None


class SSHKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="",
                                 help_text="Defaults to the key's comment.")
    public_key = serializers.CharField(max_length=16384, help_text="One line in OpenSSH format.")


class MemberSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "email", "role", "created_at"]
        read_only_fields = fields


class QuotaNumbersSerializer(serializers.Serializer):
    servers = serializers.IntegerField()
    cores = serializers.IntegerField()
    memory_mb = serializers.IntegerField()
    disk_gb = serializers.IntegerField()


class QuotaLimitsSerializer(QuotaNumbersSerializer):
    snapshots_per_server = serializers.IntegerField()
    backups_per_server = serializers.IntegerField()


class QuotaSerializer(serializers.Serializer):
    limits = QuotaLimitsSerializer()
    used = QuotaNumbersSerializer()


class TenantBriefSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    status = serializers.CharField()


class TokenBriefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    prefix = serializers.CharField()
    role = serializers.CharField(help_text="The role the token was created with.")
    expires_at = serializers.DateTimeField(allow_null=True)


class MeSerializer(serializers.Serializer):
    email = serializers.EmailField()
    tenant = TenantBriefSerializer()
    role = serializers.CharField(help_text="The role this request acts with: the lower of token and member role.")
    token = TokenBriefSerializer(allow_null=True)


# --- webhooks ------------------------------------------------------------------------------------
class WebhookSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Webhook
        fields = ["id", "url", "active", "failing_since", "created_at"]
        read_only_fields = fields


class WebhookSecretSerializer(WebhookSerializer):
    """Only in the answers that make a secret (register, rotate): it is stored encrypted and never
    shown again."""

    secret = serializers.CharField(read_only=True, help_text="Check the X-Portal-Signature header with it. "
                                   "Shown only in this answer; rotate it if it is lost.")

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookCreateSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500, help_text="http(s) to a public address; every event is POSTed there.")


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event = serializers.UUIDField(source="event.public_id", read_only=True)
    type = serializers.CharField(source="event.kind", read_only=True)

    class Meta:
        model = Delivery
        fields = ["event", "type", "state", "attempts", "last_error", "created_at", "sent_at"]
        read_only_fields = fields
