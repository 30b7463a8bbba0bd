"""Reads that pages, the API and the admin share; the write modules (actions) stay free of them."""

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Q
from django.utils import timezone

from tenants.models import Tenant

from .models import Operation, Server


def tenant_servers(tenant: Tenant):
    """The tenant's servers as lists show them: everything but the deleted, by name."""
    return Server.objects.for_tenant(tenant).exclude(status=Server.Status.DELETED).select_related("node", "image").order_by("hostname")


def with_active_operations(servers, tenant: Tenant):
    """Each server gets `active_operation`: the oldest unfinished one, the one running now (the
    others queue behind it). One query for all servers; returns the active operations too."""
    servers = list(servers)
    active = list(
        Operation.objects.for_tenant(tenant).filter(state__in=Operation.ACTIVE_STATES).select_related("server").order_by("-id")
    )
    current = {op.server_id: op for op in active}  # the oldest per server wins: it is assigned last
    for server in servers:
        server.active_operation = current.get(server.pk)
    return servers, active[::-1]


PAGE_SIZE = 50


def page_of(request, queryset, size=PAGE_SIZE):
    """One page of a long list (?page=N); a page past the end shows the last one."""
    return Paginator(queryset, size).get_page(request.GET.get("page"))


def stalled_q():
    """Active but not moving: retrying transient errors, or untouched for longer than the stall limit."""
    limit = timezone.now() - timezone.timedelta(seconds=settings.PROVISIONING_STALL_SECONDS)
    return Q(state__in=Operation.ACTIVE_STATES) & (Q(updated_at__lt=limit) | ~Q(last_error=""))


def stalled_operations():
    return Operation.objects.filter(stalled_q())
