from django.contrib import admin
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from .models import AuditEvent, Invitation, Membership, Responsibility, SSHKey, Tenant


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


class ResponsibilityInline(admin.TabularInline):
    model = Responsibility
    extra = 0


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "status", "require_mfa", "member_count", "max_servers", "created_at"]
    list_filter = ["status", "require_mfa"]
    search_fields = ["name", "slug", "vat_id", "memberships__user__email"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_at"]
    inlines = [MembershipInline, ResponsibilityInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_members=Count("memberships", distinct=True))

    @admin.display(description=_("members"), ordering="_members")
    def member_count(self, obj):
        return obj._members


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
    list_display = ["created_at", "tenant", "actor_label", "action", "object_type", "object_repr", "ip", "via"]
    list_filter = ["via", "action", "created_at"]
    search_fields = ["actor_label", "action", "object_repr", "object_id", "tenant__name", "ip"]
    list_select_related = ["tenant"]
    date_hierarchy = "created_at"

    # The trail is evidence: nobody edits or deletes it, not even superusers.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
