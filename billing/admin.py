"""Invoices in the admin are for reading: issuing, payments and corrections go through the billing
pages and billing.actions. The database refuses changes to an issued invoice anyway."""

from django.contrib import admin

from tenants.admin import as_admin

from . import actions
from .models import BillingRun, Invoice, InvoiceLine, Payment, Rate, Reminder


class ReadOnly:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class LineInline(ReadOnly, admin.TabularInline):
    model = InvoiceLine
    extra = 0
    fields = ["position", "description", "detail", "quantity", "unit", "unit_price", "net", "vat_rate", "vat_category"]


class ReminderInline(ReadOnly, admin.TabularInline):
    model = Reminder
    extra = 0


class PaymentInline(ReadOnly, admin.TabularInline):
    model = Payment
    extra = 0


@admin.register(Invoice)
class InvoiceAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["__str__", "tenant", "kind", "status", "period_start", "issue_date", "due_date", "gross", "dunning_level"]
    list_filter = ["status", "kind", "period_start"]
    search_fields = ["number", "tenant__name"]
    exclude = ["pdf", "xml"]
    inlines = [LineInline, PaymentInline, ReminderInline]

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("billing.view_invoice")


@admin.register(Rate)
class RateAdmin(admin.ModelAdmin):
    """A price is never edited: a new one is added from its date, so past periods keep theirs."""

    list_display = ["code", "amount", "valid_from", "created_by"]
    list_filter = ["code"]
    fields = ["code", "amount", "valid_from"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        obj.pk = actions.rate_set(code=obj.code, amount=obj.amount, valid_from=obj.valid_from, user=request.user,
                                  request=as_admin(request)).pk


@admin.register(BillingRun)
class BillingRunAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["period", "started_at", "finished_at", "drafted", "issued"]
