from django.contrib import admin

from .models import (
    Contract,
    Offer,
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
    list_display = ["name", "fee_per_tenant", "fee_per_server", "response_critical_hours", "customisable", "active"]
    inlines = [TierDutyInline]


@admin.register(VdsSize)
class VdsSizeAdmin(admin.ModelAdmin):
    list_display = ["name", "cores", "memory_gb", "disk_gb", "price_monthly", "active"]


@admin.register(SuggestionRule)
class SuggestionRuleAdmin(admin.ModelAdmin):
    list_display = ["position", "name", "keywords", "target", "hostname", "warning", "active"]
    list_display_links = ["name"]
    list_editable = ["position", "active"]


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    list_display = ["tenant", "tier", "started_at", "ended_at"]
    readonly_fields = ["offer", "duties", "created_by"]


class UseCaseInline(admin.TabularInline):
    model = UseCase
    extra = 0


@admin.register(Offer)
class OfferAdmin(admin.ModelAdmin):
    list_display = ["number", "company", "tier", "state", "revision", "valid_until"]
    list_filter = ["state", "tier"]
    search_fields = ["number", "company", "contact_email"]
    readonly_fields = ["tenant", "accepted_at", "created_by", "revision"]
    inlines = [UseCaseInline]


@admin.register(OfferRevision)
class OfferRevisionAdmin(admin.ModelAdmin):
    list_display = ["offer", "number", "monthly_net", "once_net", "created_at"]
