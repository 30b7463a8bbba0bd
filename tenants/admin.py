from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from .audit import audit_record
from .models import AuditEvent, Invitation, Membership, Responsibility, ServiceRequest, SSHKey, Tenant

BILLING_FIELDS = ("billing_address", "vat_id")


def as_admin(request):
    """Everything staff do in the admin lands in the audit trail marked via=admin."""
    request.audit_via = AuditEvent.Via.ADMIN
    return request


def run_action(modeladmin, request, queryset, action, success, **kwargs):
    """Run a staff action per selected row; a refusal is reported, the other rows still run."""
    as_admin(request)
    done = 0
    for obj in queryset:
        try:
            action(obj, user=request.user, request=request, **kwargs)
            done += 1
        except ValidationError as exc:
            modeladmin.message_user(request, f"{obj}: {' '.join(exc.messages)}", messages.ERROR)
    if done:
        modeladmin.message_user(request, success % {"count": done}, messages.SUCCESS)


class AuditedAdmin(admin.ModelAdmin):
    """Saves and deletes through the admin are audited like any other change."""

    def _audit_tenant(self, obj):
        if isinstance(obj, Tenant):
            return obj
        return getattr(obj, "tenant", None)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        changed = [f for f in form.changed_data if f not in ("token_secret",)] if change else []
        audit_record(
            action=f"{obj._meta.model_name}.{'change' if change else 'add'}",
            tenant=self._audit_tenant(obj), request=as_admin(request), obj=obj, details={"fields": changed},
        )

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        # Inline rows (members, responsibilities, nodes) are changes too.
        for obj, verb in [*((o, "add") for o in formset.new_objects), *((o, "change") for o, _f in formset.changed_objects),
                          *((o, "delete") for o in formset.deleted_objects)]:
            audit_record(action=f"{obj._meta.model_name}.{verb}", tenant=self._audit_tenant(form.instance),
                         request=as_admin(request), obj=obj)

    def delete_model(self, request, obj):
        audit_record(action=f"{obj._meta.model_name}.delete", tenant=self._audit_tenant(obj), request=as_admin(request), obj=obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            audit_record(action=f"{obj._meta.model_name}.delete", tenant=self._audit_tenant(obj), request=as_admin(request), obj=obj)
        super().delete_queryset(request, queryset)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


class ResponsibilityInline(admin.TabularInline):
    model = Responsibility
    extra = 0


def _count_of(model, **exclude):
    rows = model.objects.filter(tenant=OuterRef("pk")).exclude(**exclude).order_by().values("tenant").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


@admin.register(Tenant)
class TenantAdmin(AuditedAdmin):
    list_display = ["name", "slug", "status", "require_mfa", "member_count", "server_count", "max_servers", "created_at"]
    list_filter = ["status", "require_mfa"]
    search_fields = ["name", "slug", "vat_id", "memberships__user__email"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_at"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "status", "require_mfa", "time_zone", "created_at"]}),
        (_("Billing"), {"fields": list(BILLING_FIELDS)}),
        (_("Quotas"), {"fields": ["max_servers", "max_cores", "max_memory_mb", "max_disk_gb",
                                  "max_snapshots_per_server", "max_backups_per_server"]}),
    ]
    inlines = [MembershipInline, ResponsibilityInline]
    # Higher layers add to these (provisioning: servers inline, suspend/unsuspend; services: contract),
    # so this lower layer imports nothing above it (DESIGN.md section 2).
    extra_inlines = []
    actions = []

    def get_inlines(self, request, obj):
        return [*self.inlines, *self.extra_inlines]

    def get_queryset(self, request):
        # Subqueries, not joins: the list's count query stays a plain COUNT over tenants.
        return super().get_queryset(request).annotate(
            _members=_count_of(Membership), _servers=_count_of(Tenant.servers.rel.related_model, status__in=["deleted", "failed"])
        )

    @admin.display(description=_("members"), ordering="_members")
    def member_count(self, obj):
        return obj._members

    @admin.display(description=_("servers"), ordering="_servers")
    def server_count(self, obj):
        return obj._servers

    # Operators run the platform but do not see a tenant's billing data.
    def _sees_billing(self, request):
        return request.user.has_perm("tenants.view_billing")

    def get_fieldsets(self, request, obj=None):
        if self._sees_billing(request):
            return self.fieldsets
        return [fs for fs in self.fieldsets if fs[1]["fields"] != list(BILLING_FIELDS)]

    def get_search_fields(self, request):
        fields = super().get_search_fields(request)
        return fields if self._sees_billing(request) else [f for f in fields if f not in BILLING_FIELDS]

    def get_exclude(self, request, obj=None):
        excluded = list(super().get_exclude(request, obj) or [])
        return excluded if self._sees_billing(request) else [*excluded, *BILLING_FIELDS]

    def has_suspend_permission(self, request):
        return request.user.has_perm("tenants.suspend_tenant")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "tenant__name", "tenant__slug"]
    list_select_related = ["user", "tenant"]
    autocomplete_fields = ["user", "tenant"]
    readonly_fields = ["public_id", "created_at"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "tenant", "role", "invited_by", "created_at", "expires_at", "accepted_at"]
    list_filter = ["role", ("accepted_at", admin.EmptyFieldListFilter)]
    search_fields = ["email", "tenant__name"]
    list_select_related = ["tenant", "invited_by"]
    # The token is a credential; staff see whether an invitation exists, not its link.
    exclude = ["token"]
    readonly_fields = ["created_at", "accepted_at", "invited_by"]
    autocomplete_fields = ["tenant"]


@admin.register(SSHKey)
class SSHKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "key_type", "fingerprint", "user", "created_at"]
    list_filter = ["key_type"]
    search_fields = ["name", "fingerprint", "tenant__name", "user__email"]
    list_select_related = ["tenant", "user"]
    readonly_fields = ["key_type", "fingerprint", "public_key", "created_at"]
    autocomplete_fields = ["tenant"]

    def has_add_permission(self, request):
        # Keys are added through the portal, where they are parsed and fingerprinted.
        return False


@admin.register(Responsibility)
class ResponsibilityAdmin(admin.ModelAdmin):
    list_display = ["tenant", "duty", "party"]
    list_filter = ["duty", "party"]
    search_fields = ["tenant__name"]
    list_select_related = ["tenant"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "tenant", "actor_label", "what", "action", "object_type", "object_repr", "ip", "via"]
    list_filter = ["via", "action", "created_at"]
    search_fields = ["actor_label", "action", "object_repr", "object_id", "tenant__name", "ip"]
    list_select_related = ["tenant"]
    date_hierarchy = "created_at"

    @admin.display(description=_("what happened"), ordering="action")
    def what(self, obj):
        return obj.description

    # The trail is evidence: nobody edits or deletes it, not even superusers.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ServiceRequest)
class ServiceRequestAdmin(AuditedAdmin):
    list_display = ["created_at", "tenant", "duty", "subject", "server_name", "state", "assignee", "updated_at"]
    list_filter = ["state", "duty"]
    search_fields = ["subject", "message", "tenant__name", "server_name"]
    list_select_related = ["tenant", "assignee"]
    readonly_fields = ["tenant", "duty", "server_public_id", "server_name", "subject", "message", "created_by", "created_at", "done_at"]
    autocomplete_fields = ["assignee"]

    def has_add_permission(self, request):
        # Customers ask through the portal; staff answer here or on the staff pages.
        return False


class StaffUserAdmin(UserAdmin):
    """JIKU admins give staff their roles (groups); only a superuser makes another superuser."""

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += ["is_superuser", "user_permissions"]
        return fields


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), StaffUserAdmin)
