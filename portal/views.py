from django.core.cache import cache
from django.db import connection
from django.db.models import Q
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache

from billing.views import current_costs
from provisioning import selectors
from provisioning.actions import quota_usage
from provisioning.models import Server
from tenants.access import tenant_required

from .celery import app as celery_app


@tenant_required("view")
def dashboard(request):
    """The tenant at a glance, what matters first: what failed or runs now, the servers with state and
    address, then quota and the month's costs."""
    tenant = request.tenant
    servers = selectors.tenant_servers(tenant)
    status = request.GET.get("status", "")
    kind = request.GET.get("kind", "")
    if status in Server.Status.values:
        servers = servers.filter(status=status)
    if kind in Server.Kind.values:
        servers = servers.filter(kind=kind)
    page = selectors.page_of(request, servers)
    servers, active = selectors.with_active_operations(page.object_list, tenant)
    used = quota_usage(tenant)
    quota = [
        (_("Servers"), used["servers"], tenant.max_servers, ""),
        (_("Cores"), used["cores"], tenant.max_cores, ""),
        (_("Memory"), used["memory_mb"], tenant.max_memory_mb, "memory"),
        (_("Disk"), used["disk_gb"], tenant.max_disk_gb, "disk"),
    ]
    quota = [(label, value, limit, unit, min(100, int(100 * value / limit)) if limit else 100) for label, value, limit, unit in quota]
    # What needs the customer: failed builds and servers that stopped although they should run.
    attention = list(selectors.tenant_servers(tenant).filter(
        Q(status=Server.Status.FAILED) | Q(status=Server.Status.STOPPED, should_run=True))[:10])
    # The month's costs so far, for those who see the bills (billing's own page has the details).
    costs = _costs_so_far(tenant, used) if request.membership.can("audit") else None
    return render(
        request,
        "portal/dashboard.html",
        {
            "servers": servers,
            "page": page,
            "operations": active,
            "quota": quota,
            "attention": attention,
            "costs": costs if costs and costs["forecast"] else None,
            "status_filter": status,
            "kind_filter": kind,
            "statuses": Server.Status.choices,
            "kinds": Server.Kind.choices,
        },
    )


COSTS_SECONDS = 300


def _costs_so_far(tenant, used):
    """The month's costs for the dashboard, kept five minutes: metering is the page's dearest part and
    a figure "so far" may lag that much (the billing page computes it afresh). A server ordered,
    resized or deleted changes the key, so the forecast follows at once."""
    key = "dashboard-costs:{}:{servers}:{cores}:{memory_mb}:{disk_gb}".format(tenant.pk, **used)
    costs = cache.get(key)
    if costs is None:
        full = current_costs(tenant)
        costs = {"start": full["start"], "so_far": full["so_far"], "forecast": full["forecast"]}
        cache.set(key, costs, COSTS_SECONDS)
    return costs


def favicon(request):
    # Asked at request time, not at import: in production the manifest names the hashed file.
    return HttpResponsePermanentRedirect(static("img/favicon.svg"))


@never_cache
def healthz(request):
    """Reports the database and the broker; 503 when either is down (for load balancers)."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        checks["broker"] = "ok"
    except Exception as exc:  # noqa: BLE001
        checks["broker"] = f"error: {exc.__class__.__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503)


