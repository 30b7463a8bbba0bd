"""/api/v1/ for the firewall: a server's rules and defaults, the tenant's address sets and security groups."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer, extend_schema_view
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from provisioning import actions as provisioning
from provisioning.models import AddressSet, Firewall, FirewallRule, SecurityGroup, Verdict

from .errors import error_responses
from .idempotency import PARAMETER as IDEMPOTENCY_KEY
from .idempotency import idempotent
from .serializers import OperationSerializer
from .views import ApiViewSet, ServerChildViewSet, call

ACCEPTED = {202: OpenApiResponse(OperationSerializer, description="Accepted: poll the operation until it has finished."),
            **error_responses(400, 404, 409, 422)}


class RuleSerializer(serializers.Serializer):
    direction = serializers.ChoiceField(choices=FirewallRule.Direction.choices, default="in")
    action = serializers.ChoiceField(choices=Verdict.choices, default="ACCEPT")
    protocol = serializers.ChoiceField(choices=FirewallRule.Protocol.choices, default="", allow_blank=True)
    dest_port = serializers.CharField(max_length=120, default="", allow_blank=True, help_text="22, 80,443 or 8000-8080")
    source = serializers.CharField(max_length=400, default="", allow_blank=True, help_text="Addresses, CIDR or ranges.")
    source_set = serializers.UUIDField(required=False, allow_null=True, help_text="An address set of the tenant.")
    dest = serializers.CharField(max_length=400, default="", allow_blank=True)
    dest_set = serializers.UUIDField(required=False, allow_null=True)
    comment = serializers.CharField(max_length=100, default="", allow_blank=True)
    enabled = serializers.BooleanField(default=True)
    group = serializers.UUIDField(required=False, allow_null=True,
                                  help_text="Apply this security group here (only in a server's rules).")

    def to_representation(self, rule):
        out = {f: getattr(rule, f) for f in ("direction", "action", "protocol", "dest_port", "source", "dest", "comment",
                                             "enabled")}
        for field in ("source_set", "dest_set", "group"):
            related = getattr(rule, field)
            out[field] = str(related.public_id) if related is not None else None
        return out


@extend_schema_serializer(many=False)  # one firewall per server, answered at the collection's address
class FirewallSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    policy_in = serializers.ChoiceField(choices=Verdict.choices, default="DROP")
    policy_out = serializers.ChoiceField(choices=Verdict.choices, default="ACCEPT")
    rules = RuleSerializer(many=True, help_text="In order: the first rule that matches decides.")
    confirm_lockout = serializers.BooleanField(default=False, write_only=True,
                                               help_text="Required when the rules close SSH and RDP to everyone.")


class PresetSerializer(serializers.Serializer):
    preset = serializers.ChoiceField(choices=list(provisioning.PRESETS))
    source = serializers.CharField(max_length=400, default="", allow_blank=True)
    source_set = serializers.UUIDField(required=False, allow_null=True)
    confirm_lockout = serializers.BooleanField(default=False)


class AddressSetSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    entries = serializers.ListField(child=serializers.CharField(max_length=64), max_length=20)

    class Meta:
        model = AddressSet
        fields = ["id", "name", "description", "entries"]


class SecurityGroupSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    rules = RuleSerializer(many=True)
    confirm_lockout = serializers.BooleanField(default=False, write_only=True,
                                               help_text="Required when the rules close SSH and RDP on a server.")

    class Meta:
        model = SecurityGroup
        fields = ["id", "name", "description", "rules", "confirm_lockout"]

    def to_representation(self, group):
        out = super().to_representation(group)
        out["rules"] = [RuleSerializer().to_representation(r) for r in group.rules.select_related("source_set", "dest_set")]
        return out


def _valid(serializer_class, data):
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _resolve(tenant, value, model, field):
    """A tenant's own object by its id; another tenant's or an unknown id is a field error, never a leak."""
    if value is None:
        return None
    found = model.objects.for_tenant(tenant).filter(public_id=value).first()
    if found is None:
        raise exceptions.ValidationError({field: [_("Choose one of your own tenant's address sets or security groups.")]})
    return found


def _rules(tenant, rules):
    out = []
    for index, rule in enumerate(rules):
        rule = dict(rule)
        for field, model in (("source_set", AddressSet), ("dest_set", AddressSet), ("group", SecurityGroup)):
            rule[field] = _resolve(tenant, rule.get(field), model, f"rules.{index}.{field}")
        out.append(rule)
    return out


def _firewall_data(server):
    fw = Firewall.objects.filter(server=server).first() or Firewall(server=server)
    rules = list(fw.rules.select_related("group", "source_set", "dest_set")) if fw.pk else []
    return {"enabled": fw.enabled, "policy_in": fw.policy_in, "policy_out": fw.policy_out,
            "rules": [RuleSerializer().to_representation(r) for r in rules]}


class ServerFirewallViewSet(ServerChildViewSet):
    """One server's firewall: on or off, its defaults and its ordered rules."""

    queryset = FirewallRule.objects.none()
    serializer_class = FirewallSerializer
    pagination_class = None

    def tenant_queryset(self):
        return FirewallRule.objects.filter(firewall__server=self.get_server())

    @extend_schema(summary="Show the server's firewall", responses={200: FirewallSerializer, **error_responses(404)})
    def list(self, request, server_id=None):
        return Response(_firewall_data(self.get_server()))

    @extend_schema(summary="Replace the server's firewall (defaults and rules in order)", request=FirewallSerializer,
                   parameters=[IDEMPOTENCY_KEY], responses=ACCEPTED)
    @idempotent
    def create(self, request, server_id=None):
        server = self.get_server()
        data = _valid(FirewallSerializer, request.data)
        data["rules"] = _rules(request.tenant, data["rules"])
        return self.accepted(call(provisioning.firewall_set, server=server, user=request.user, request=request, **data))

    @extend_schema(summary="Apply a firewall preset", request=PresetSerializer, parameters=[IDEMPOTENCY_KEY],
                   responses=ACCEPTED)
    @action(detail=False, methods=["post"])
    @idempotent
    def preset(self, request, server_id=None):
        server = self.get_server()
        data = _valid(PresetSerializer, request.data)
        data["source_set"] = _resolve(request.tenant, data.get("source_set"), AddressSet, "source_set")
        return self.accepted(call(provisioning.firewall_preset_apply, server=server, user=request.user, request=request,
                                  **data))


@extend_schema_view(
    list=extend_schema(summary="List the tenant's address sets", responses={200: AddressSetSerializer(many=True), **error_responses(400, 404)}),
    retrieve=extend_schema(summary="Show an address set", responses={200: AddressSetSerializer, **error_responses(404)}),
    create=extend_schema(summary="Create an address set", request=AddressSetSerializer,
                         responses={201: AddressSetSerializer, **error_responses(400)}),
    update=extend_schema(summary="Change an address set (servers using it are rewritten)", request=AddressSetSerializer,
                         responses={200: AddressSetSerializer, **error_responses(400, 404)}),
    destroy=extend_schema(summary="Delete an unused address set", responses={204: None, **error_responses(400, 404)}),
)
class AddressSetViewSet(ApiViewSet):
    """Named lists of addresses and networks, used by rules of many servers."""

    queryset = AddressSet.objects.none()
    serializer_class = AddressSetSerializer

    def tenant_queryset(self):
        return AddressSet.objects.for_tenant(self.request.tenant)

    def list(self, request):
        return self.paged(self.get_queryset(), AddressSetSerializer)

    def retrieve(self, request, id=None):
        return Response(AddressSetSerializer(self.get_object()).data)

    def create(self, request):
        data = _valid(AddressSetSerializer, request.data)
        made = call(provisioning.address_set_save, tenant=request.tenant, user=request.user, request=request, **data)
        return Response(AddressSetSerializer(made).data, status=status.HTTP_201_CREATED)

    def update(self, request, id=None):
        current = self.get_object()
        data = _valid(AddressSetSerializer, request.data)
        saved = call(provisioning.address_set_save, tenant=request.tenant, address_set=current, user=request.user,
                     request=request, **data)
        return Response(AddressSetSerializer(saved).data)

    def destroy(self, request, id=None):
        call(provisioning.address_set_delete, address_set=self.get_object(), user=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="List the tenant's security groups", responses={200: SecurityGroupSerializer(many=True), **error_responses(400, 404)}),
    retrieve=extend_schema(summary="Show a security group", responses={200: SecurityGroupSerializer, **error_responses(404)}),
    create=extend_schema(summary="Create a security group", request=SecurityGroupSerializer,
                         responses={201: SecurityGroupSerializer, **error_responses(400)}),
    update=extend_schema(summary="Change a security group (servers using it are rewritten)",
                         request=SecurityGroupSerializer, responses={200: SecurityGroupSerializer, **error_responses(400, 404)}),
    destroy=extend_schema(summary="Delete an unused security group", responses={204: None, **error_responses(400, 404)}),
)
class SecurityGroupViewSet(ApiViewSet):
    """Rule sets of the tenant, applied to many servers by a rule of the server's firewall."""

    queryset = SecurityGroup.objects.none()
    serializer_class = SecurityGroupSerializer

    def tenant_queryset(self):
        return SecurityGroup.objects.for_tenant(self.request.tenant)

    def list(self, request):
        return self.paged(self.get_queryset(), SecurityGroupSerializer)

    def retrieve(self, request, id=None):
        return Response(SecurityGroupSerializer(self.get_object()).data)

    def _save(self, request, group=None):
        data = _valid(SecurityGroupSerializer, request.data)
        data["rules"] = _rules(request.tenant, data["rules"])
        return call(provisioning.security_group_save, tenant=request.tenant, group=group, user=request.user,
                    request=request, **data)

    def create(self, request):
        return Response(SecurityGroupSerializer(self._save(request)).data, status=status.HTTP_201_CREATED)

    def update(self, request, id=None):
        return Response(SecurityGroupSerializer(self._save(request, self.get_object())).data)

    def destroy(self, request, id=None):
        call(provisioning.security_group_delete, group=self.get_object(), user=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


FIREWALL_ROUTES = [
    (r"servers/(?P<server_id>[^/]+)/firewall", ServerFirewallViewSet, "server-firewall"),
    (r"address-sets", AddressSetViewSet, "address-set"),
    (r"security-groups", SecurityGroupViewSet, "security-group"),
]
