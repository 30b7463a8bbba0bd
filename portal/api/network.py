"""/api/v1/ for a server's reverse DNS: PTR records under /servers/{server_id}/ptr-records/."""

import ipaddress

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from provisioning import actions as provisioning
from provisioning.models import PtrRecord

from .errors import error_responses
from .views import ServerChildViewSet, call


class PtrRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = PtrRecord
        fields = ["address", "name", "status", "checked_at", "created_at"]
        read_only_fields = ["status", "checked_at", "created_at"]
        extra_kwargs = {
            "name": {"help_text": "A fully qualified host name that resolves (A/AAAA) to the address."},
            "address": {"help_text": "The server's IPv4 address or an address in its IPv6 prefix.",
                        "validators": []},
        }


class PtrRemoveSerializer(serializers.Serializer):
    address = serializers.IPAddressField(help_text="The address whose reverse DNS name is removed.")


@extend_schema_view(
    list=extend_schema(summary="List a server's reverse DNS names", responses={200: PtrRecordSerializer(many=True), **error_responses(404)}),
)
class PtrRecordViewSet(ServerChildViewSet):
    """Reverse DNS names of one server's addresses. A name that does not resolve forward to its address
    yet is kept with status `pending` and published once it does."""

    queryset = PtrRecord.objects.none()
    serializer_class = PtrRecordSerializer

    def tenant_queryset(self):
        return self.get_server().ptr_records.all()

    def list(self, request, server_id=None):
        return self.paged(self.get_queryset(), PtrRecordSerializer)

    @extend_schema(summary="Set the reverse DNS name of an address", request=PtrRecordSerializer,
                   responses={200: PtrRecordSerializer, **error_responses(400, 404)})
    def create(self, request, server_id=None):
        server = self.get_server()  # a foreign server answers 404 before the body is read
        serializer = PtrRecordSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        record = call(provisioning.ptr_set, server=server, user=request.user, request=request, **serializer.validated_data)
        return Response(PtrRecordSerializer(record).data, status=status.HTTP_200_OK)

    @extend_schema(summary="Remove the reverse DNS name of an address", request=PtrRemoveSerializer,
                   responses={204: OpenApiResponse(description="Removed."), **error_responses(400, 404)})
    @action(detail=False, methods=["post"])
    def remove(self, request, server_id=None):
        server = self.get_server()
        serializer = PtrRemoveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        address = str(ipaddress.ip_address(serializer.validated_data["address"]))
        record = get_object_or_404(server.ptr_records.select_related("server"), address=address)
        call(provisioning.ptr_delete, record=record, user=request.user, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


NETWORK_ROUTES = [
    (r"servers/(?P<server_id>[^/]+)/ptr-records", PtrRecordViewSet, "server-ptr-record"),
]
