"""Events and deliveries are for reading: staff see what was sent, and what failed and why;
failed deliveries can be sent again."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import actions
from .kinds import KINDS
from .models import Delivery, Event, Preference, Webhook


class KindFilter(admin.SimpleListFilter):
    """The kinds by their names in the reader's language, not their keys (kinds are not choices)."""

    title = _("kind")
    parameter_name = "kind"
    field = "kind"

    def lookups(self, request, model_admin):
        return sorted(((key, kind.label) for key, kind in KINDS.items()), key=lambda pair: str(pair[1]))

    def queryset(self, request, queryset):
        return queryset.filter(**{self.field: self.value()}) if self.value() else queryset


class EventKindFilter(KindFilter):
    parameter_name = "event_kind"
    field = "event__kind"


class ReadOnly:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class DeliveryInline(ReadOnly, admin.TabularInline):
    model = Delivery
    extra = 0
    fields = ["address", "channel", "language", "state", "attempts", "last_error", "sent_at"]
    readonly_fields = fields


@admin.register(Event)
class EventAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["created_at", "kind_label", "tenant", "fanned_out_at"]
    list_filter = [KindFilter, "created_at"]
    search_fields = ["tenant__name", "public_id"]
    readonly_fields = ["public_id", "tenant", "kind", "subject_type", "subject_id", "payload", "created_at", "fanned_out_at"]
    list_select_related = ["tenant"]
    inlines = [DeliveryInline]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["created_at", "event", "address", "state", "attempts", "last_error", "sent_at"]
    list_filter = ["state", "channel", EventKindFilter]
    search_fields = ["address", "event__tenant__name"]
    readonly_fields = ["event", "user", "webhook", "address", "channel", "language", "state", "attempts", "last_error",
                       "next_attempt_at", "created_at", "sent_at"]
    exclude = ["lease_until"]
    list_select_related = ["event", "event__tenant"]
    actions = ["send_again"]

    def has_retry_permission(self, request):
        return request.user.has_perm("notifications.change_delivery")

    @admin.action(description=_("Send failed deliveries again"), permissions=["retry"])
    def send_again(self, request, queryset):
        n = actions.delivery_retry(deliveries=queryset)
        self.message_user(request, ngettext("%(n)d delivery is sent again.", "%(n)d deliveries are sent again.", n)
                          % {"n": n}, messages.SUCCESS)


@admin.register(Preference)
class PreferenceAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["user", "kind", "email"]
    list_filter = [KindFilter, "email"]
    search_fields = ["user__email"]


@admin.register(Webhook)
class WebhookAdmin(ReadOnly, admin.ModelAdmin):
    """Tenants manage their webhooks on their own page; staff see which ones fail."""

    list_display = ["url", "tenant", "active", "failing_since", "created_at"]
    list_filter = ["active", "failing_since"]
    search_fields = ["url", "tenant__name"]
    exclude = ["secret_encrypted"]
    list_select_related = ["tenant"]
