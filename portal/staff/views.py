"""Staff pages for what the admin does clumsily: capacity, failed and stalled work, drift, requests.

They read the database only; buttons post to provisioning.actions. Anyone without the staff
permission a page needs gets a 403 (tenants/access.py: every door answers alike).
"""


from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, F, Prefetch, Q, Sum
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from provisioning import actions
from provisioning.charts import sparkline
from provisioning.graphs import NODE_CHARTS, render_graphs
from provisioning.models import Cluster, ConsoleSession, Drift, Image, Node, Operation, Server
from provisioning.selectors import stalled_q
from services.actions import orders_place_pending
from services.models import Order
from tenants import actions as tenant_actions
from tenants.access import add_errors, attempt, staff_required
from tenants.models import ServiceRequest

from .forms import (
    AdoptForm,
    ApplianceForm,
    MaintenanceAnnounceForm,
    OciForm,
    OwnTemplateForm,
    RequestAnswerForm,
)

LIVE = ~Q(servers__status__in=[Server.Status.DELETED, Server.Status.FAILED])




def percent(used, total):
    return min(100, round(100 * used / total)) if total else 0


# --- overview and nodes -------------------------------------------------------------------------
@staff_required("provisioning.view_node")
def overview(request):
    nodes = Node.objects.select_related("dedicated_tenant", "metrics").annotate(
        servers_live=Count("servers", filter=LIVE), cores_booked=Sum("servers__cores", filter=LIVE),
        memory_booked=Sum("servers__memory_mb", filter=LIVE),
    )
    clusters = Cluster.objects.prefetch_related(Prefetch("nodes", queryset=nodes)).order_by("name")
    rows = []
    for cluster in clusters:
        node_rows = []
        for node in cluster.nodes.all():
            metrics = getattr(node, "metrics", None)
            points = metrics.points if metrics else []
            node_rows.append({
                "node": node,
                "cores_pct": percent(node.cores_booked or 0, node.max_cores),
                "memory_pct": percent(node.memory_used_mb, node.max_memory_mb),
                "disk_pct": percent(node.disk_used_gb, node.max_disk_gb),
                "cpu_line": sparkline(points, 1),
                "mem_line": sparkline(points, 2),
                "metrics_at": metrics.updated_at if metrics else None,
            })
        rows.append({"cluster": cluster, "nodes": node_rows})
    # One query per table: what needs attention, counted side by side.
    counts = {
        **Operation.objects.aggregate(failed=Count("id", filter=Q(state=Operation.State.FAILED)),
                                      stalled=Count("id", filter=stalled_q())),
        **Server.objects.aggregate(
            unavailable=Count("id", filter=Q(status=Server.Status.UNAVAILABLE)),
            stopped_unexpectedly=Count("id", filter=Q(status=Server.Status.STOPPED, should_run=True)),
        ),
        **Node.objects.aggregate(awaiting=Count("id", filter=Q(status=Node.Status.AWAITING)),
                                 drain_stopped=Count("id", filter=Q(draining=True) & ~Q(drain_error=""))),
        "drift": Drift.objects.filter(resolved_at__isnull=True).count(),
        "requests": ServiceRequest.objects.exclude(state=ServiceRequest.State.DONE).count(),
    }
    return render(request, "staff/overview.html", {"clusters": rows, "counts": counts})


@require_POST
@staff_required("provisioning.operate_cluster")
def cluster_reconcile(request, pk):
    cluster = get_object_or_404(Cluster, pk=pk)
    stats = actions.cluster_reconcile(cluster=cluster, user=request.user, request=request)
    if "error" in stats:
        messages.error(request, _("Reconcile failed: %(error)s") % stats)
    else:
        messages.success(request, _("%(cluster)s reconciled: %(guests)s guests, %(missing)s missing, %(unknown)s unknown.") % {"cluster": cluster, **stats})
    return redirect("staff:overview")


@require_POST
@staff_required("provisioning.operate_cluster")
def cluster_test(request, pk):
    cluster = get_object_or_404(Cluster, pk=pk)
    r = actions.cluster_test_connection(cluster=cluster, user=request.user, request=request)
    if r["error"]:
        messages.error(request, _("Connection failed: %(error)s") % r)
    else:
        text = _("Proxmox VE %(version)s, %(count)s nodes.") % {"version": r["version"], "count": len(r["nodes"])}
        if r["missing"]:
            messages.warning(request, text + " " + _("The token lacks: %(missing)s") % {"missing": ", ".join(r["missing"])})
        else:
            messages.success(request, text + " " + _("The token has every privilege the portal needs."))
    return redirect("staff:overview")


@staff_required("provisioning.view_node")
def node_detail(request, pk):
    node = get_object_or_404(Node.objects.select_related("cluster", "dedicated_tenant"), pk=pk)
    servers = (
        Server.objects.filter(node=node).exclude(status=Server.Status.DELETED).select_related("tenant").order_by("tenant__name", "hostname")
    )
    # Orders sold with this node (a customer's VDS) wait for it; staff see what is waiting and why.
    orders = Order.objects.filter(node=node).exclude(state=Order.State.PLACED).select_related("tenant", "plan", "image")
    return render(request, "staff/node.html", {
        "node": node, "servers": servers, "announce_form": MaintenanceAnnounceForm(), "orders": orders, "cluster_nodes": node.cluster.nodes.exclude(pk=node.pk),
        # A new node's local storage is empty: the catalogue's container templates must be fetched there.
        "templates": sorted({i.volid.split("/", 1)[1] for i in Image.objects.filter(
            cluster=node.cluster, kind=Image.Kind.LXC, source=Image.Source.OS, active=True).exclude(volid="")}),
    })


@staff_required("provisioning.view_node")
def node_graphs(request, pk):
    """The node's charts, the same block as a server's: cached rrddata a worker fetches."""
    node = get_object_or_404(Node.objects.select_related("cluster"), pk=pk)
    return render_graphs(request, node, url=reverse("staff:node_graphs", args=[node.pk]),
                         fetchable=node.status == Node.Status.ONLINE, charts=NODE_CHARTS)


@require_POST
@staff_required("provisioning.operate_cluster")
def node_check(request, pk):
    """"Check now" for a node awaiting installation: is it in the cluster yet, and as big as sold?"""
    node = get_object_or_404(Node, pk=pk)
    try:
        node = actions.node_check_joined(node=node, user=request.user, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("staff:node", pk=pk)
    if node.status == Node.Status.AWAITING:
        messages.warning(request, _("%(node)s has not joined the cluster yet.") % {"node": node.name})
        return redirect("staff:node", pk=pk)
    if node.missing_templates:
        messages.warning(request, _("%(node)s lacks these container templates; servers from them fail until they are "
                                    "fetched there: %(names)s") % {"node": node.name, "names": ", ".join(node.missing_templates)})
    placed = orders_place_pending()
    if node.capacity_shortfall:
        messages.warning(request, _("%(node)s joined, but with less than was sold; see below.") % {"node": node.name})
    messages.success(request, _("%(node)s is %(status)s; %(count)s waiting order(s) were placed.")
                     % {"node": node.name, "status": node.get_status_display(), "count": placed})
    return redirect("staff:node", pk=pk)


@require_POST
@staff_required("provisioning.change_node")
def node_maintenance(request, pk):
    node = get_object_or_404(Node, pk=pk)
    on = request.POST.get("maintenance") == "1"
    actions.node_set_maintenance(node=node, maintenance=on, user=request.user, request=request)
    messages.success(request, _("%(node)s is in maintenance now.") % {"node": node.name} if on else _("%(node)s is back in service.") % {"node": node.name})
    return redirect("staff:node", pk=node.pk)


@require_POST
@staff_required("provisioning.change_node")
def node_announce(request, pk):
    """Planned maintenance: the tenants with servers on the node are told in advance."""
    node = get_object_or_404(Node, pk=pk)
    form = MaintenanceAnnounceForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(m for errs in form.errors.values() for m in errs))
        return redirect("staff:node", pk=pk)
    try:
        told = actions.node_maintenance_announce(node=node, user=request.user, request=request, **form.cleaned_data)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("staff:node", pk=pk)
    messages.success(request, ngettext("%(n)d tenant is told about the maintenance.",
                                       "%(n)d tenants are told about the maintenance.", told) % {"n": told})
    return redirect("staff:node", pk=pk)


@require_POST
@staff_required("provisioning.change_node")
def node_drain(request, pk):
    node = get_object_or_404(Node, pk=pk)
    actions.node_drain(node=node, user=request.user, request=request)
    node.refresh_from_db()
    if node.drain_error:
        messages.warning(request, _("The drain stopped: %(reason)s") % {"reason": node.drain_error})
    else:
        messages.success(request, _("%(node)s is draining: its servers move to other nodes one after another.")
                         % {"node": node.name})
    return redirect("staff:node", pk=node.pk)


# --- operations ----------------------------------------------------------------------------------
@staff_required("provisioning.view_operation")
def operations(request):
    base = Operation.objects.select_related("server", "server__node", "tenant")
    failed = base.filter(state=Operation.State.FAILED).order_by("-finished_at", "-id")[:100]
    stalled = base.filter(stalled_q()).order_by("updated_at")[:100]
    unavailable = Server.objects.filter(status=Server.Status.UNAVAILABLE).select_related("tenant", "node")[:100]
    unexpected = Server.objects.filter(status=Server.Status.STOPPED, should_run=True).select_related("tenant", "node")[:100]
    return render(request, "staff/operations.html", {
        "failed": failed, "stalled": stalled, "unavailable": unavailable, "unexpected": unexpected, "now": timezone.now(),
    })


def _operation(public_id):
    return get_object_or_404(Operation, public_id=public_id)


@require_POST
@staff_required("provisioning.change_operation")
def operation_retry(request, public_id):
    op = _operation(public_id)
    attempt(request, lambda: actions.operation_retry(operation=op, user=request.user, request=request), _("The operation is queued again."))
    return redirect("staff:operations")


@require_POST
@staff_required("provisioning.change_operation")
def operation_cancel(request, public_id):
    op = _operation(public_id)
    attempt(request, lambda: actions.operation_cancel(operation=op, reason=request.POST.get("reason", ""),
                                                      user=request.user, request=request), _("The operation is cancelled."))
    return redirect("staff:operations")


# --- drift -----------------------------------------------------------------------------------
@staff_required("provisioning.view_drift")
def drift_list(request):
    drifts = Drift.objects.filter(resolved_at__isnull=True).select_related("cluster", "server", "server__tenant").order_by("cluster__name", "vmid")
    rows = [
        {"drift": d, "form": AdoptForm(initial=actions.adopt_defaults(d), prefix=f"d{d.pk}") if d.kind == Drift.Kind.UNKNOWN else None}
        for d in drifts
    ]
    return render(request, "staff/drift.html", {"rows": rows})


def _drift(pk):
    return get_object_or_404(Drift, pk=pk, resolved_at__isnull=True)


@require_POST
@staff_required("provisioning.change_drift")
def drift_adopt(request, pk):
    drift = _drift(pk)
    form = AdoptForm(request.POST, prefix=f"d{drift.pk}")
    if not form.is_valid():
        messages.error(request, " ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        return redirect("staff:drift_list")
    attempt(request, lambda: actions.server_adopt(drift=drift, user=request.user, request=request, **form.cleaned_data),
             _("VMID %(vmid)s now belongs to %(tenant)s.") % {"vmid": drift.vmid, "tenant": form.cleaned_data["tenant"]})
    return redirect("staff:drift_list")


@require_POST
@staff_required("provisioning.change_drift")
def drift_deleted(request, pk):
    drift = _drift(pk)
    attempt(request, lambda: actions.drift_mark_deleted(drift=drift, user=request.user, request=request), _("The server is marked deleted."))
    return redirect("staff:drift_list")


@require_POST
@staff_required("provisioning.change_drift")
def drift_ignore(request, pk):
    drift = _drift(pk)
    attempt(request, lambda: actions.drift_ignore(drift=drift, user=request.user, request=request), _("The drift is ignored."))
    return redirect("staff:drift_list")


@require_POST
@staff_required("provisioning.change_drift")
def drift_firewall(request, pk):
    drift = _drift(pk)
    attempt(request, lambda: actions.firewall_rewrite(drift=drift, user=request.user, request=request),
            _("The portal's firewall rules are being written again."))
    return redirect("staff:drift_list")


# --- service requests ----------------------------------------------------------------------------
@staff_required("tenants.view_servicerequest")
def requests(request):
    qs = ServiceRequest.objects.select_related("tenant", "assignee", "created_by")
    # The clock decides the order: what is due first comes first (older rows without a clock last).
    open_requests = list(qs.exclude(state=ServiceRequest.State.DONE).order_by(F("respond_by").asc(nulls_last=True),
                                                                               "created_at"))
    done = qs.filter(state=ServiceRequest.State.DONE).order_by("-done_at")[:20]
    can_answer = request.user.has_perm("tenants.change_servicerequest")
    rows = [{"req": r, "form": RequestAnswerForm(instance=r, prefix=str(r.public_id)) if can_answer else None} for r in open_requests]
    return render(request, "staff/requests.html", {"rows": rows, "done": done})


@require_POST
@staff_required("tenants.change_servicerequest")
def request_answer(request, public_id):
    req = get_object_or_404(ServiceRequest, public_id=public_id)
    if request.POST.get("assign_me"):
        tenant_actions.service_request_assign(service_request=req, user=request.user, request=request)
        messages.success(request, _("The request is yours."))
        return redirect("staff:requests")
    form = RequestAnswerForm(request.POST, instance=req, prefix=str(req.public_id))
    if form.is_valid():
        attempt(request, lambda: tenant_actions.service_request_answer(service_request=req, user=request.user,
                                                                         request=request, **form.cleaned_data),
                _("The request is saved; the customer sees the answer."))
    else:
        messages.error(request, " ".join(m for errs in form.errors.values() for m in errs))
    return redirect("staff:requests")


# --- marketplace --------------------------------------------------------------------------------
MARKETPLACE_FORMS = {"appliance": ApplianceForm, "oci": OciForm, "template": OwnTemplateForm}


def _marketplace_submit(kind, data, request):
    who = {"user": request.user, "request": request}
    if kind == "appliance":
        actions.appliance_import(cluster=data["cluster"], template=data["template"], name=data["name"], **who)
        return _("Proxmox is downloading the appliance on every online node.")
    if kind == "oci":
        actions.oci_import(cluster=data["cluster"], reference=data["reference"], name=data["name"], **who)
        return _("Proxmox is pulling the image on every online node; its digest is checked before and after.")
    actions.template_from_server(server=data["server"], name=data["name"], description=data["description"],
                                 for_everyone=data["for_everyone"], **who)
    return _("The server is being turned into a template; approve it when it is ready.")


@staff_required("provisioning.change_image")
def marketplace(request):
    posted = request.POST.get("form") if request.method == "POST" else None
    forms = {kind: cls(request.POST if kind == posted else None, prefix=kind) for kind, cls in MARKETPLACE_FORMS.items()}
    if posted in forms and forms[posted].is_valid():
        try:
            message = _marketplace_submit(posted, forms[posted].cleaned_data, request)
        except ValidationError as exc:
            add_errors(forms[posted], exc)
        else:
            messages.success(request, message)
            return redirect("staff:marketplace")
    images = (
        Image.objects.exclude(source=Image.Source.OS).select_related("cluster", "tenant")
        .order_by("cluster__name", "source", "name")
    )
    online = {}
    for cluster_id, name in Node.objects.filter(status=Node.Status.ONLINE).values_list("cluster_id", "name"):
        online.setdefault(cluster_id, set()).add(name)
    for image in images:
        fetched = image.source in Image.FETCHED_SOURCES
        image.missing_nodes = sorted(online.get(image.cluster_id, set()) - set(image.nodes)) if fetched else []
    return render(request, "staff/marketplace.html", {"forms": forms, "images": images})


@require_POST
@staff_required("provisioning.change_image")
def marketplace_fetch(request, pk):
    image = get_object_or_404(Image, pk=pk)
    attempt(request, lambda: actions.image_fetch_to_new_nodes(image=image, user=request.user, request=request),
            _("Proxmox is fetching the image onto the nodes that lack it."))
    return redirect("staff:marketplace")


@require_POST
@staff_required("provisioning.change_image")
def marketplace_approve(request, pk):
    image = get_object_or_404(Image, pk=pk)
    approved = request.POST.get("approved") == "1"
    attempt(request, lambda: actions.image_approve(image=image, approved=approved, user=request.user, request=request),
            _("Customers can order it now.") if approved else _("Withdrawn from the catalogue."))
    return redirect("staff:marketplace")


# --- console sessions ---------------------------------------------------------------------------
@staff_required("provisioning.view_consolesession")
def consoles(request):
    """Consoles open now (and waiting for their browser), and the last ones that ended."""
    sessions = ConsoleSession.objects.select_related("server__tenant", "user", "ended_by")
    return render(request, "staff/consoles.html", {
        "open": sessions.exclude(state=ConsoleSession.State.CLOSED).filter(
            Q(state=ConsoleSession.State.OPEN) | Q(expires_at__gt=timezone.now())),
        "recent": sessions.filter(state=ConsoleSession.State.CLOSED)[:50],
    })


@require_POST
@staff_required("provisioning.change_consolesession")
def console_end(request, public_id):
    session = get_object_or_404(ConsoleSession.objects.select_related("server__tenant"), public_id=public_id)
    if actions.console_end(session=session, user=request.user, request=request):
        messages.success(request, _("The console session of %(user)s on %(server)s was ended.") % {
            "user": session.user.email, "server": session.server.hostname})
    else:
        messages.info(request, _("That console session had already ended."))
    return redirect("staff:consoles")
