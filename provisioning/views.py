import uuid
from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import prefetch_related_objects
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from tenants.access import add_errors, attempt, get_for_tenant, refusal, submit_form, tenant_required
from tenants.models import AuditEvent, Duty

from . import actions, live, selectors, server_sections
from . import safety_views as safety
from .forms import (
    BackupForm,
    BackupPolicyForm,
    DeleteForm,
    ReinstallForm,
    RenameForm,
    ResizeForm,
    RollbackForm,
    ServerCreateForm,
    SnapshotForm,
)
from .models import BackupPolicy, Operation, Server
from .operations import step_label


def _server(request, public_id):
    return get_for_tenant(selectors.tenant_servers(request.tenant), request.tenant, public_id=public_id)


@tenant_required("view")
def server_list(request):
    page = selectors.page_of(request, selectors.tenant_servers(request.tenant))
    servers, _active = selectors.with_active_operations(page.object_list, request.tenant)
    return render(request, "provisioning/server_list.html", {"servers": servers, "page": page})


@tenant_required("operate")
def server_create(request):
    form = ServerCreateForm(request.POST or None, tenant=request.tenant)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            server = actions.server_create(
                tenant=request.tenant,
                image=data["image"],
                hostname=data["hostname"],
                cores=data["cores"],
                memory_mb=data["memory_mb"],
                disk_gb=data["disk_gb"],
                ssh_keys=data["ssh_keys"],
                password=data["password"],
                user=request.user,
                request=request,
            )
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, _("Your server %(name)s is being built.") % {"name": server.hostname})
            return redirect("provisioning:server_detail", public_id=server.public_id)
    return render(request, "provisioning/server_create.html", {"form": form})


def _detail_context(request, server, *, full=False):
    operations = list(server.operations.select_related("created_by").order_by("-id")[:20])
    for op in operations:
        op.step_label = step_label(op)
    return {
        "server": server,
        "operations": operations,
        "active": next((op for op in operations if op.is_active), None),
        "can_operate": request.membership.can("operate"),
        # The overview shows the operations table under the status; the other sections only the status.
        "full": full,
    }


def section_page(request, public_id, key, template, extra=None):
    """One section of the server page: the shared header (status, power, tabs) and the section's own part."""
    server = _server(request, public_id)
    server.tenant = request.tenant  # the same row, already loaded: spares a query for the slot limits
    context = _detail_context(request, server, full=key == "overview")
    if not server_sections.offered(server, key, can_operate=context["can_operate"]):
        return redirect("provisioning:server_detail", public_id=server.public_id)
    # One query for the contract's responsibilities instead of one per managed_by_jiku question.
    prefetch_related_objects([request.tenant], "responsibilities")
    context.update(
        section=key,
        tabs=server_sections.tabs(server, can_operate=context["can_operate"], current=key),
        jiku=actions.managed_actions(request.tenant, request.user),
        jiku_monitors=request.tenant.managed_by_jiku(Duty.MONITORING),
    )
    if extra:
        context.update(extra(server))
    return render(request, template, context)


@tenant_required("view")
def server_detail(request, public_id):
    def extra(server):
        # CPU, memory and uptime as reconcile last read them (the cache, not Proxmox).
        figures = live.for_servers([server])[server.pk]
        up = server.status == Server.Status.RUNNING and figures.uptime and figures.seen_at
        return {
            "activity": AuditEvent.objects.for_tenant(request.tenant).filter(
                object_type="server", object_id__in=_history_ids(server))[:20],
            "figures": figures,
            "running_since": figures.seen_at - timedelta(seconds=figures.uptime) if up else None,
        }

    return section_page(request, public_id, "overview", "provisioning/server_detail.html", extra)


@tenant_required("view")
def server_graphs_page(request, public_id):
    return section_page(request, public_id, "graphs", "provisioning/server_graphs.html")


@tenant_required("view")
def _snapshots_page(request, public_id):
    return section_page(
        request, public_id, "snapshots", "provisioning/server_snapshots.html",
        lambda server: {"snapshots": server.snapshots.all(), "snapshot_form": SnapshotForm(), "rollback_form": RollbackForm()},
    )


@require_http_methods(["GET", "HEAD", "POST"])
def server_snapshots(request, public_id):
    """GET shows the section; POST takes a snapshot (the URL the snapshot form always posted to)."""
    if request.method == "POST":
        return safety.snapshot_create(request, public_id)
    return _snapshots_page(request, public_id)


@tenant_required("view")
def _backups_page(request, public_id):
    def extra(server):
        policy = BackupPolicy.objects.filter(server=server).first()
        return {"backups": server.backups.kept(), "policy": policy, "backup_form": BackupForm(),
                "policy_form": BackupPolicyForm(initial=_policy_initial(policy))}

    return section_page(request, public_id, "backups", "provisioning/server_backups.html", extra)


@require_http_methods(["GET", "HEAD", "POST"])
def server_backups(request, public_id):
    """GET shows the section; POST backs up now (the URL the backup form always posted to)."""
    if request.method == "POST":
        return safety.backup_create(request, public_id)
    return _backups_page(request, public_id)


def _settings_page(request, public_id, resize_form=None):
    return section_page(
        request, public_id, "settings", "provisioning/server_settings.html",
        lambda s: {
            "staging_copies": s.staging_copies.live(),
            "resize_form": resize_form or ResizeForm(server=s),
            "rename_form": RenameForm(initial={"hostname": s.hostname}),
            "reinstall_form": ReinstallForm(server=s),
        },
    )


@tenant_required("view")
def server_settings(request, public_id):
    return _settings_page(request, public_id)


@tenant_required("operate")
def server_danger(request, public_id):
    return section_page(request, public_id, "danger", "provisioning/server_danger.html", lambda s: {"delete_form": DeleteForm()})


def _history_ids(server, depth=3):
    """The server and the ones whose production role it took over (promote): one history for the role."""
    ids, predecessor = [str(server.public_id)], server.predecessor_id
    while predecessor and len(ids) <= depth:
        row = Server.objects.filter(pk=predecessor).values("public_id", "predecessor_id").first()
        if row is None:
            break
        ids.append(str(row["public_id"]))
        predecessor = row["predecessor_id"]
    return ids


def _policy_initial(policy):
    if policy is None:
        return {}
    fields = ["enabled", "frequency", "weekday", "time", "keep_last", "keep_daily", "keep_weekly", "keep_monthly"]
    return {f: getattr(policy, f) for f in fields}


@tenant_required("view")
def server_live(request, public_id):
    """The status and operations block, polled by HTMX while something is going on."""
    server = _server(request, public_id)
    full = request.GET.get("full") == "1"
    context = _detail_context(request, server, full=full)
    watched = _watched(request, server)
    context["watch"] = _follow(request, watched)
    if watched is not None and context["watch"] is None:
        # Told done just now. The overview shows it in place; a section loads again (static/js/app.js)
        # and shows it then, or, over a half-filled form, once the customer reloads.
        context["live_messages"] = full
    response = render(request, "provisioning/_server_live.html", {**context, "oob_operations": full})
    settled = not context["active"] and server.status not in (Server.Status.BUILDING, Server.Status.DELETING)
    if request.GET.get("refresh") == "1" and settled:
        # A section other than the overview (a snapshot list, a resize form) shows what the finished
        # operation changed by loading once more; static/js/app.js does that unless the customer has
        # started filling in a form there, which a reload would throw away. The overview updates in place.
        response["HX-Trigger"] = "server-operation-finished"
    return response


def _watched(request, server):
    """The power operation the page said was queued (its poll carries the id), until it is told done."""
    try:
        public_id = uuid.UUID(request.GET.get("watch", ""))
    except ValueError:
        return None
    return server.operations.filter(public_id=public_id).first()


def _follow(request, op):
    """The id the live block keeps polling with while the operation runs; once it has finished, the
    "done" (or why not) is told and there is nothing left to follow."""
    if op is None:
        return None
    if op.is_active:
        return op.public_id
    _tell_finished(request, op)
    return None


def _tell_finished(request, op):
    # "Queued" was said when it was sent; "done" only now that Proxmox has done it.
    if op.state == Operation.State.SUCCEEDED:
        messages.success(request, _("%(action)s is done.") % {"action": op.get_kind_display()})
    else:
        messages.error(request, _("%(action)s failed: %(reason)s") % {
            "action": op.get_kind_display(), "reason": op.customer_error or _("Proxmox reported an error.")})


@require_POST
@tenant_required("operate")
def server_power(request, public_id, action):
    server = _server(request, public_id)
    if action not in actions.POWER_RULES:
        raise Http404
    # Queued, not done: the live block shows when Proxmox has finished it.
    label = dict(Operation.Kind.choices)[action]
    op = attempt(
        request,
        lambda: actions.server_power(server=server, action=action, user=request.user, request=request),
        _("%(action)s is queued; this page shows when it is done.") % {"action": label},
    )
    if request.headers.get("HX-Request"):
        server.refresh_from_db()
        context = _detail_context(request, server, full=request.POST.get("full") == "1")
        if op is not None:
            op.refresh_from_db()  # Proxmox may have been quicker than this answer
        context["watch"] = _follow(request, op)
        return render(request, "provisioning/_server_live.html", {**context, "live_messages": True, "oob_operations": context["full"]})
    return redirect("provisioning:server_detail", public_id=server.public_id)


@require_POST
@tenant_required("operate")
def server_auto_restart(request, public_id):
    server = _server(request, public_id)
    enabled = request.POST.get("enabled") == "1"
    attempt(
        request,
        lambda: actions.server_set_auto_restart(server=server, enabled=enabled, user=request.user, request=request),
        _("The portal starts this server again when it stops unexpectedly.") if enabled
        else _("The portal leaves this server stopped when it stops unexpectedly."),
    )
    return server_sections.back_to(server, "settings")


@require_POST
@tenant_required("operate")
def server_resize(request, public_id):
    server = _server(request, public_id)
    form = ResizeForm(request.POST, server=server)
    if form.is_valid():
        try:
            actions.server_resize(server=server, user=request.user, request=request, **form.cleaned_data)
        except ValidationError as exc:
            add_errors(form, exc)
        except PermissionDenied as exc:
            messages.error(request, refusal(exc))
            return server_sections.back_to(server, "settings")
        else:
            messages.success(request, _("The server is being resized."))
            return server_sections.back_to(server, "settings")
    # The settings page again with what was typed and the errors at their fields; nothing changed.
    return _settings_page(request, public_id, resize_form=form)


@require_POST
@tenant_required("operate")
def server_rename(request, public_id):
    server = _server(request, public_id)
    form = RenameForm(request.POST)
    submit_form(
        request,
        form,
        lambda d: actions.server_rename(server=server, hostname=d["hostname"], user=request.user, request=request),
        _("The server is being renamed."),
    )
    return server_sections.back_to(server, "settings")


@require_POST
@tenant_required("operate")
def server_reinstall(request, public_id):
    server = _server(request, public_id)
    form = ReinstallForm(request.POST, server=server)
    submit_form(
        request,
        form,
        lambda d: actions.server_reinstall(
            server=server, image=d["image"], password=d["password"], user=request.user, request=request
        ),
        _("The server is being reinstalled."),
    )
    return server_sections.back_to(server, "settings")


@require_POST
@tenant_required("operate")
def server_delete(request, public_id):
    server = _server(request, public_id)
    form = DeleteForm(request.POST)
    if form.is_valid():
        try:
            actions.server_delete(
                server=server, confirm_hostname=form.cleaned_data["confirm_hostname"], user=request.user, request=request
            )
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, refusal(exc))
            return server_sections.back_to(server, "danger")
        messages.success(request, _("%(name)s is being deleted.") % {"name": server.hostname})
        return redirect("provisioning:server_list")
    messages.error(request, _("Type the server's hostname to confirm."))
    return server_sections.back_to(server, "danger")
