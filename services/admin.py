from django.contrib import admin

from .models import (
    Contract,
    DutyPrice,
    Licence,
    Offer,
    OfferAcceptance,
    OfferRevision,
    Order,
    Plan,
    ServiceTier,
    SuggestionRule,
    TierDuty,
    UseCase,
    VdsSize,
)


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "cores", "memory_mb", "disk_gb", "price_monthly", "active"]
    list_filter = ["kind", "active"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["hostname", "tenant", "plan", "state", "node", "price_monthly", "created_at"]
    list_filter = ["state"]
    readonly_fields = ["server", "offer", "created_by"]


class TierDutyInline(admin.TabularInline):
    model = TierDuty
    extra = 0


@admin.register(ServiceTier)
class ServiceTierAdmin(admin.ModelAdmin):
    list_display = ["name", "response_critical_hours", "response_normal_hours", "customisable", "active"]
    inlines = [TierDutyInline]


@admin.register(DutyPrice)
class DutyPriceAdmin(admin.ModelAdmin):
    # Prices belong to duties, not tiers: one row per duty, changed in place, never added twice.
    list_display = ["duty", "per_month", "per_server"]
    list_editable = ["per_month", "per_server"]


@admin.register(Licence)
class LicenceAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "metric", "pack_cores", "minimum_cores", "price_monthly", "os_family", "active"]
    list_filter = ["metric", "active"]


@admin.register(VdsSize)
class VdsSizeAdmin(admin.ModelAdmin):
    list_display = ["name", "cores", "memory_gb", "disk_gb", "price_monthly", "active"]


@admin.register(SuggestionRule)
class SuggestionRuleAdmin(admin.ModelAdmin):
    list_display = ["position", "name", "keywords", "target", "hostname", "os_family", "warning", "active"]
    filter_horizontal = ["licences"]
    list_display_links = ["name"]
    list_editable = ["position", "active"]


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    list_display = ["tenant", "tier", "started_at", "ended_at"]
    readonly_fields = ["offer", "duties", "created_by"]


class ReadOnly:
    """Offers change only through the sales pages, where every change becomes a new revision
    (the database refuses anything else, see migration 0005); the admin shows them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class UseCaseInline(ReadOnly, admin.TabularInline):
    model = UseCase
    extra = 0

    def has_delete_permission(self, request, obj=None):
        return False


class OfferRevisionInline(ReadOnly, admin.TabularInline):
    # Shown only inside their offer: a revision on its own is neither edited nor deleted.
    model = OfferRevision
    extra = 0
    fields = ["number", "monthly_net", "once_net", "created_by", "created_at"]
    readonly_fields = fields

    def has_delete_permission(self, request, obj=None):
        return False


class OfferAcceptanceInline(ReadOnly, admin.StackedInline):
    model = OfferAcceptance
    extra = 0
    fields = ["revision", "channel", "name", "position", "note", "accepted_at", "ip_address", "user_agent",
              "recorded_by"]
    readonly_fields = fields

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Offer)
class OfferAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["number", "company", "tier", "state", "revision", "valid_until"]
    list_filter = ["state", "tier"]
    search_fields = ["number", "company", "contact_email"]
    inlines = [OfferAcceptanceInline, UseCaseInline, OfferRevisionInline]

    def has_delete_permission(self, request, obj=None):
        # A sent offer is a document the customer holds: decline it instead.
        return super().has_delete_permission(request, obj) and (obj is None or obj.state == Offer.State.DRAFT)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # bulk delete would not ask offer by offer
        return actions
