"""Events and deliveries are for reading: staff see what was sent, and what failed and why;
failed deliveries can be sent again."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import actions
from .models import Delivery, Event, Preference, Webhook


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
    list_filter = ["kind", "created_at"]
    search_fields = ["tenant__name", "public_id"]
    readonly_fields = ["public_id", "tenant", "kind", "subject_type", "subject_id", "payload", "created_at", "fanned_out_at"]
    list_select_related = ["tenant"]
    inlines = [DeliveryInline]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["created_at", "event", "address", "state", "attempts", "last_error", "sent_at"]
    list_filter = ["state", "channel", "event__kind"]
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
    list_filter = ["kind", "email"]
    search_fields = ["user__email"]


@admin.register(Webhook)
class WebhookAdmin(ReadOnly, admin.ModelAdmin):
    """Tenants manage their webhooks on their own page; staff see which ones fail."""

    list_display = ["url", "tenant", "active", "failing_since", "created_at"]
    list_filter = ["active", "failing_since"]
    search_fields = ["url", "tenant__name"]
    exclude = ["secret_encrypted"]
    list_select_related = ["tenant"]
