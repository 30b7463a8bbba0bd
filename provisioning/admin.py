"""The Django admin for what runs: clusters, nodes, images, servers, operations and drift.

Actions that talk to Proxmox go through provisioning.actions (operations, or the synchronous staff
checks "test connection" and "reconcile now"); every one is audited with via=admin.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Case, Count, IntegerField, Q, Sum, Value, When
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from tenants.admin import AuditedAdmin, TenantAdmin, as_admin, run_action

from . import actions
from .models import (
    AddressSet,
    Cluster,
    Drift,
    Firewall,
    FirewallRule,
    Image,
    IPPool,
    Node,
    NodeMetrics,
    Operation,
    PtrRecord,
    SecurityGroup,
    Server,
)
from .selectors import stalled_q

LIVE = ~Q(servers__status__in=[Server.Status.DELETED, Server.Status.FAILED])


def capacity_bar(used, total, unit=""):
    """A small bar for list pages; red from 85 % on."""
    if not total:
        return "–"
    percent = min(100, round(100 * used / total))
    # A native <meter>: coloured by the browser from low/high, no inline style for the CSP to refuse.
    return format_html(
        '<meter class="capbar" min="0" max="100" low="65" high="85" optimum="0" value="{}" title="{} / {} {}"></meter>'
        ' <small>{} %</small>',
        percent, used, total, unit, percent,
    )


class NodeFilter(admin.RelatedFieldListFilter):
    """Node choices with their cluster in one query (Node.__str__ would fetch each cluster)."""

    def field_choices(self, field, request, model_admin):
        return [(n.pk, f"{n.name} ({n.cluster.name})") for n in Node.objects.select_related("cluster")]


class ClusterForm(forms.ModelForm):
    token_secret = forms.CharField(
        label=_("API token secret"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Stored encrypted. Leave empty to keep the current secret."),
    )

    class Meta:
        model = Cluster
        fields = "__all__"

    def save(self, commit=True):
        if self.cleaned_data.get("token_secret"):
            self.instance.token_secret = self.cleaned_data["token_secret"]
        return super().save(commit)


class NodeInline(admin.TabularInline):
    model = Node
    extra = 0
    fields = ["name", "kind", "provider", "status", "maintenance", "draining", "dedicated_tenant", "max_cores", "max_memory_mb"]
    # Maintenance and draining change through the actions (audited, drains started), never as plain fields.
    readonly_fields = ["status", "maintenance", "draining", "max_cores", "max_memory_mb"]
    autocomplete_fields = ["dedicated_tenant"]


@admin.register(Cluster)
class ClusterAdmin(AuditedAdmin):
    form = ClusterForm
    list_display = ["name", "api_url", "token_id", "active", "node_count", "last_reconciled_at", "reconcile_error"]
    list_filter = ["active"]
    search_fields = ["name", "api_url"]
    readonly_fields = ["last_reconciled_at", "reconcile_error", "snapshot_capable"]
    inlines = [NodeInline]
    actions = ["test_connection", "reconcile_now"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_nodes=Count("nodes"))

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        # Read-only, the form field would be rendered from the model's property: the decrypted secret.
        if not self.has_change_permission(request, obj):
            fields = [f for f in fields if f != "token_secret"]
        return fields

    def has_operate_permission(self, request):
        # Reconcile and test connection; operators have it without change_cluster (the credentials).
        return request.user.has_perm("provisioning.operate_cluster")

    @admin.display(description=_("nodes"), ordering="_nodes")
    def node_count(self, obj):
        return obj._nodes

    @admin.action(description=_("Test connection (version, nodes, token permissions)"), permissions=["operate"])
    def test_connection(self, request, queryset):
        as_admin(request)
        for cluster in queryset:
            r = actions.cluster_test_connection(cluster=cluster, user=request.user, request=request)
            if r["error"]:
                self.message_user(request, _("%(cluster)s: connection failed: %(error)s") % {"cluster": cluster, "error": r["error"]}, messages.ERROR)
                continue
            nodes = ", ".join(f"{n['name']} ({n['status']})" for n in r["nodes"])
            text = _("%(cluster)s: Proxmox VE %(version)s, %(count)s nodes: %(nodes)s.") % {
                "cluster": cluster, "version": r["version"], "count": len(r["nodes"]), "nodes": nodes}
            if r["missing"]:
                self.message_user(request, f"{text} " + _("The token lacks: %(missing)s") % {"missing": ", ".join(r["missing"])}, messages.WARNING)
            else:
                self.message_user(request, f"{text} " + _("The token has every privilege the portal needs."), messages.SUCCESS)

    @admin.action(description=_("Reconcile now"), permissions=["operate"])
    def reconcile_now(self, request, queryset):
        as_admin(request)
        for cluster in queryset:
            stats = actions.cluster_reconcile(cluster=cluster, user=request.user, request=request)
            if "error" in stats:
                self.message_user(request, _("%(cluster)s: reconcile failed: %(error)s") % {"cluster": cluster, "error": stats["error"]}, messages.ERROR)
            else:
                self.message_user(request, _("%(cluster)s reconciled: %(guests)s guests, %(missing)s missing, %(unknown)s unknown.") % {"cluster": cluster, **stats}, messages.SUCCESS)


@admin.register(Node)
class NodeAdmin(AuditedAdmin):
    list_display = ["name", "cluster", "kind", "provider", "status", "maintenance", "draining", "dedicated_tenant",
                    "server_count", "cores_bar", "memory_bar", "disk_bar"]
    list_filter = ["cluster", "kind", "provider", "status", "maintenance", "draining", "nested"]
    list_select_related = ["cluster", "dedicated_tenant"]
    search_fields = ["name", "provider_name", "cluster__name"]
    autocomplete_fields = ["dedicated_tenant"]
    # Maintenance and draining change through the actions below (audited, the drain started), not as fields.
    readonly_fields = ["status", "maintenance", "draining", "drain_error", "cpu_usage", "memory_used_mb", "disk_used_gb",
                       "last_seen_at"]
    actions = ["maintenance_on", "maintenance_off", "drain"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            _servers=Count("servers", filter=LIVE),
            _cores=Sum("servers__cores", filter=LIVE),
        )

    @admin.display(description=_("servers"), ordering="_servers")
    def server_count(self, obj):
        return obj._servers

    @admin.display(description=_("cores booked"))
    def cores_bar(self, obj):
        return capacity_bar(obj._cores or 0, obj.max_cores)

    @admin.display(description=_("memory used"))
    def memory_bar(self, obj):
        return capacity_bar(obj.memory_used_mb, obj.max_memory_mb, "MiB")

    @admin.display(description=_("disk used"))
    def disk_bar(self, obj):
        return capacity_bar(obj.disk_used_gb, obj.max_disk_gb, "GiB")

    @admin.action(description=_("Put into maintenance (no new servers)"), permissions=["change"])
    def maintenance_on(self, request, queryset):
        run_action(self, request, queryset, lambda n, **kw: actions.node_set_maintenance(node=n, maintenance=True, **kw),
                   _("%(count)s node(s) in maintenance."))

    @admin.action(description=_("End maintenance and draining"), permissions=["change"])
    def maintenance_off(self, request, queryset):
        run_action(self, request, queryset, lambda n, **kw: actions.node_set_maintenance(node=n, maintenance=False, **kw),
                   _("%(count)s node(s) back in service."))

    @admin.action(description=_("Drain: move its servers to other nodes"), permissions=["change"])
    def drain(self, request, queryset):
        run_action(self, request, queryset, lambda n, **kw: actions.node_drain(node=n, **kw), _("%(count)s node(s) draining."))


@admin.register(Image)
class ImageAdmin(AuditedAdmin):
    list_display = ["name", "kind", "source", "cluster", "tenant", "status", "approved", "template_vmid", "volid", "active"]
    list_filter = ["kind", "source", "status", "approved", "cluster", "active", ("tenant", admin.EmptyFieldListFilter)]
    list_select_related = ["cluster", "tenant"]
    search_fields = ["name", "volid", "tenant__name"]
    autocomplete_fields = ["tenant"]


@admin.register(IPPool)
class IPPoolAdmin(AuditedAdmin):
    list_display = ["name", "cluster", "node", "network", "gateway", "range_start", "range_end", "server_prefixlen"]
    list_select_related = ["cluster", "node", "node__cluster"]
    list_filter = ["cluster"]


class OperationInline(admin.TabularInline):
    model = Operation
    fk_name = "server"
    extra = 0
    fields = ["kind", "state", "step_name", "attempts", "error", "created_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True
    ordering = ["-created_at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Server)
class ServerAdmin(AuditedAdmin):
    list_display = ["hostname", "tenant", "kind", "status", "vmid", "node", "ipv4", "cores", "memory_mb", "disk_gb", "ha_enabled", "drift"]
    list_filter = ["status", "kind", "cluster", ("node", NodeFilter), "ha_enabled"]
    list_select_related = ["tenant", "node", "node__cluster"]
    search_fields = ["hostname", "ipv4", "ipv6", "vmid", "tenant__name"]
    readonly_fields = ["public_id", "vmid", "ipv4", "ipv6_prefix", "ipv6", "status", "status_reason", "drift", "created_by", "created_at"]
    raw_id_fields = ["staging_of", "image"]
    autocomplete_fields = ["tenant"]
    inlines = [OperationInline]


class StalledFilter(admin.SimpleListFilter):
    title = _("attention")
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [("failed", _("Failed")), ("stalled", _("Stalled"))]

    def queryset(self, request, queryset):
        if self.value() == "failed":
            return queryset.filter(state=Operation.State.FAILED)
        if self.value() == "stalled":
            return queryset.filter(stalled_q())
        return queryset


@admin.register(Operation)
class OperationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "state", "server", "tenant", "step_name", "attempts", "short_error"]
    list_filter = [StalledFilter, "state", "kind"]
    list_select_related = ["server", "tenant"]
    search_fields = ["server__hostname", "tenant__name", "error", "upid"]
    readonly_fields = ["public_id", "tenant", "server", "kind", "state", "params", "step", "step_count", "step_name",
                       "upid", "upid_node", "attempts", "error", "last_error", "not_before", "lease_until",
                       "created_by", "created_at", "started_at", "finished_at"]
    actions = ["retry", "cancel"]

    def get_ordering(self, request):
        # Failed first, then what still runs, then history.
        rank = Case(
            When(state=Operation.State.FAILED, then=Value(0)),
            When(state__in=Operation.ACTIVE_STATES, then=Value(1)),
            default=Value(2),
            output_field=IntegerField(),
        )
        return [rank.asc(), "-created_at", "-id"]

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("error"))
    def short_error(self, obj):
        text = obj.error or obj.last_error
        return (text[:120] + "…") if len(text) > 120 else text

    @admin.action(description=_("Retry failed operations"), permissions=["change"])
    def retry(self, request, queryset):
        run_action(self, request, queryset, lambda o, **kw: actions.operation_retry(operation=o, **kw), _("%(count)s operation(s) queued again."))

    @admin.action(description=_("Cancel (failed or not yet started)"), permissions=["change"])
    def cancel(self, request, queryset):
        return confirm_with_reason(
            self, request, queryset, name="cancel", title=_("Cancel operations"),
            detail=lambda op: f"{op.get_kind_display()} · {op.server.hostname if op.server_id else '–'} · {op.get_state_display()}",
            consequence=_("A failed operation is dismissed; a queued one is withdrawn and what it reserved is released. "
                          "The reason is kept in the audit trail."),
            submit=_("Cancel these operations"), success=_("%(count)s operation(s) cancelled."),
            run=lambda o, **kw: actions.operation_cancel(operation=o, **kw),
        )


@admin.register(Drift)
class DriftAdmin(admin.ModelAdmin):
    list_display = ["kind", "cluster", "vmid", "node_name", "guest_name", "server", "first_seen_at", "resolved_at", "resolution", "resolve_link"]
    list_filter = ["kind", "cluster", ("resolved_at", admin.EmptyFieldListFilter), "resolution"]
    list_select_related = ["cluster", "server"]
    search_fields = ["vmid", "guest_name", "node_name"]
    readonly_fields = ["cluster", "kind", "vmid", "node_name", "guest_name", "server", "details", "resolution", "resolved_at"]
    actions = ["ignore", "mark_deleted"]

    def has_add_permission(self, request):
        return False

    @admin.display(description=_("resolve"))
    def resolve_link(self, obj):
        if obj.resolved_at:
            return "–"
        return format_html('<a href="{}">{}</a>', reverse("staff:drift_list") + f"#drift-{obj.pk}", _("Resolve"))

    @admin.action(description=_("Ignore (reconcile will not raise it again)"), permissions=["change"])
    def ignore(self, request, queryset):
        run_action(self, request, queryset, lambda d, **kw: actions.drift_ignore(drift=d, **kw), _("%(count)s drift(s) ignored."))

    @admin.action(description=_("Mark the missing server deleted"), permissions=["change"])
    def mark_deleted(self, request, queryset):
        run_action(self, request, queryset, lambda d, **kw: actions.drift_mark_deleted(drift=d, **kw), _("%(count)s server(s) written off."))


@admin.register(NodeMetrics)
class NodeMetricsAdmin(admin.ModelAdmin):
    list_display = ["node", "timeframe", "updated_at"]
    list_select_related = ["node", "node__cluster"]
    readonly_fields = ["node", "timeframe", "points", "updated_at"]

    def has_add_permission(self, request):
        return False


# --- firewall: read here, changed by the customer's pages and API (their actions write Proxmox) ---
class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class FirewallRuleInline(admin.TabularInline):
    model = FirewallRule
    fk_name = "firewall"
    extra = 0
    fields = ["position", "group", "direction", "action", "protocol", "dest_port", "source", "source_set", "dest",
              "dest_set", "comment", "enabled"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class GroupRuleInline(FirewallRuleInline):
    fk_name = "security_group"


@admin.register(Firewall)
class FirewallAdmin(ReadOnlyAdmin):
    list_display = ["server", "enabled", "policy_in", "policy_out", "applied_at"]
    list_select_related = ["server"]
    search_fields = ["server__hostname"]
    readonly_fields = ["server", "enabled", "policy_in", "policy_out", "applied_rules", "applied_at"]
    inlines = [FirewallRuleInline]


@admin.register(AddressSet)
class AddressSetAdmin(ReadOnlyAdmin):
    list_display = ["name", "tenant", "pve_name"]
    list_select_related = ["tenant"]
    search_fields = ["name", "tenant__name"]
    readonly_fields = ["tenant", "name", "description", "entries", "pve_name"]


@admin.register(SecurityGroup)
class SecurityGroupAdmin(ReadOnlyAdmin):
    list_display = ["name", "tenant", "pve_name"]
    list_select_related = ["tenant"]
    search_fields = ["name", "tenant__name"]
    readonly_fields = ["tenant", "name", "description", "pve_name"]
    inlines = [GroupRuleInline]


# --- additions to the tenants admin (a lower layer, which cannot import us) ------------------
class TenantServerInline(admin.TabularInline):
    model = Server
    extra = 0
    fields = ["hostname", "kind", "status", "node", "vmid", "ipv4", "cores", "memory_mb", "disk_gb"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(status=Server.Status.DELETED).select_related("node", "node__cluster")


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason (kept in the audit trail)"), max_length=500, required=False,
                             widget=forms.Textarea(attrs={"rows": 2, "cols": 60}))


def confirm_with_reason(modeladmin, request, queryset, *, name, title, consequence, submit, detail, run, success):
    """Far-reaching admin actions first show what they will do and ask why; `run(obj, reason=…)` then acts."""
    form = ReasonForm(request.POST if request.POST.get("confirmed") else None)
    if form.is_bound and form.is_valid():
        try:
            reason = actions.check_reason(form.cleaned_data["reason"])
        except ValidationError as exc:
            form.add_error("reason", exc)
        else:
            run_action(modeladmin, request, queryset, run, success, reason=reason)
            return None
    return TemplateResponse(request, "admin/confirm_with_reason.html", {
        **modeladmin.admin_site.each_context(request), "title": title, "form": form, "action": name,
        "submit": submit, "consequence": consequence, "affected": [(obj, detail(obj)) for obj in queryset],
    })


@admin.action(description=_("Suspend: stop servers, block self-service"), permissions=["suspend"])
def suspend_tenants(modeladmin, request, queryset):
    def running(tenant):
        names = Server.objects.for_tenant(tenant).filter(status=Server.Status.RUNNING).values_list("hostname", flat=True)
        return ", ".join(names) or _("no running servers")

    return confirm_with_reason(
        modeladmin, request, queryset, name="suspend_tenants", title=_("Suspend tenants"), detail=running,
        consequence=_("Their members can no longer change anything, and these running servers are stopped "
                      "(unsuspending starts exactly these again):"),
        submit=_("Suspend and stop these servers"), success=_("%(count)s tenant(s) suspended."),
        run=lambda t, **kw: actions.tenant_suspend(tenant=t, **kw),
    )


@admin.action(description=_("Unsuspend: restart the servers suspension stopped"), permissions=["suspend"])
def unsuspend_tenants(modeladmin, request, queryset):
    run_action(modeladmin, request, queryset, lambda t, **kw: actions.tenant_unsuspend(tenant=t, **kw), _("%(count)s tenant(s) unsuspended."))


TenantAdmin.extra_inlines.append(TenantServerInline)
TenantAdmin.actions = [*TenantAdmin.actions, suspend_tenants, unsuspend_tenants]


@admin.register(PtrRecord)
class PtrRecordAdmin(AuditedAdmin):
    list_display = ["address", "name", "status", "server", "checked_at"]
    list_select_related = ["server"]
    list_filter = ["status"]
    search_fields = ["address", "name", "server__hostname"]
    readonly_fields = ["server", "address", "name", "status", "checked_at"]

    def has_add_permission(self, request):
        return False

    # Deleting the row here would leave the PTR answered by PowerDNS: names are removed through
    # the action (the network tab, the API, deleting the server), which withdraws them first.
    def has_delete_permission(self, request, obj=None):
        return False
