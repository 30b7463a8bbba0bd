"""The server's network page: its IPv4 and IPv6 addresses and their reverse DNS names."""

import ipaddress

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tenants.access import add_errors, attempt, get_for_tenant, tenant_required

from . import actions, powerdns
from .forms import PtrForm
from .models import PtrRecord, Server
from .views import section_page


def _server(request, public_id):
    qs = Server.objects.exclude(status=Server.Status.DELETED).select_related("cluster", "node", "tenant")
    return get_for_tenant(qs, request.tenant, public_id=public_id)


@tenant_required("view")
def server_network(request, public_id):
    form = None
    if request.method == "POST":
        if not request.membership.can("operate"):
            raise PermissionDenied  # viewers read the page; naming addresses is an operator's change
        server = _server(request, public_id)
        form = PtrForm(request.POST)
        if form.is_valid():
            try:
                record = actions.ptr_set(server=server, user=request.user, request=request, **form.cleaned_data)
            except ValidationError as exc:
                add_errors(form, exc)
            else:
                if record.status == PtrRecord.Status.ACTIVE:
                    messages.success(request, _("The reverse DNS name %(name)s is set.") % {"name": record.name})
                else:
                    messages.warning(request, _(
                        "%(name)s does not resolve to %(address)s yet. The name is kept as pending and set as soon "
                        "as its forward record (A or AAAA) points to the address."
                    ) % {"name": record.name, "address": record.address})
                return redirect("provisioning:server_network", public_id=server.public_id)

    def extra(server):
        return {
            "records": server.ptr_records.all(),
            "form": form if form is not None else PtrForm(initial={"address": server.ipv4 or server.ipv6}),
            "rdns_available": powerdns.available(),
        }

    return section_page(request, public_id, "network", "provisioning/server_network.html", extra)


@require_POST
@tenant_required("operate")
def ptr_delete(request, public_id, address):
    server = _server(request, public_id)
    try:
        address = str(ipaddress.ip_address(address))
    except ValueError:
        raise Http404 from None
    record = get_object_or_404(server.ptr_records.select_related("server"), address=address)
    attempt(request, lambda: actions.ptr_delete(record=record, user=request.user, request=request),
            _("The reverse DNS name was removed."))
    return redirect("provisioning:server_network", public_id=server.public_id)
