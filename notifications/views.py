from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import actions
from .forms import PreferencesForm, WebhookForm
from .models import Delivery, MailSettings, Webhook
from .selectors import preferences_for


@login_required
def preferences(request):
    rows = preferences_for(request.user)
    saved = MailSettings.objects.filter(user=request.user).values_list("language", flat=True).first()
    form = PreferencesForm(request.POST or None, rows=rows, initial={"language": saved or get_language()})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            actions.preferences_save(user=request.user, choices={k.key: data.get(k.key) for k, _on, _l in rows},
                                     language=data["language"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Your notification settings are saved."))
            return redirect("notifications:preferences")
    return render(request, "notifications/preferences.html", {"form": form, "has_kinds": bool(rows)})


def _tenant_managers(view):
    """Owners and admins of the current tenant (the tenants middleware sets request.membership;
    this app imports no tenants code, so the door is spelled out here). The action checks again."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        membership = getattr(request, "membership", None)
        if membership is None:
            return redirect("tenants:onboarding")
        if not membership.can("manage_team"):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _webhook(request, public_id):
    return get_object_or_404(Webhook.objects.for_tenant(request.tenant), public_id=public_id)


def _webhooks_page(request, form, shown=None):
    """The page; `shown` is a webhook whose secret was just made, shown this once and never again
    (it is not put in a message or the session: both are stored)."""
    hooks = Webhook.objects.for_tenant(request.tenant)
    log = Delivery.objects.filter(webhook__tenant=request.tenant).select_related("event", "webhook")[:50]
    return render(request, "notifications/webhooks.html", {"form": form, "hooks": hooks, "log": log, "shown": shown})


@_tenant_managers
def webhooks(request):
    form = WebhookForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            hook = actions.webhook_create(tenant=request.tenant, by=request.user, url=form.cleaned_data["url"],
                                          request=request)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("The webhook is registered. Check signatures with its secret."))
            return _webhooks_page(request, WebhookForm(), shown=hook)
    return _webhooks_page(request, form)


@require_POST
@_tenant_managers
def webhook_rotate(request, public_id):
    hook = actions.webhook_rotate_secret(webhook=_webhook(request, public_id), by=request.user, request=request)
    messages.success(request, _("The webhook has a new secret; deliveries from now on are signed with it."))
    return _webhooks_page(request, WebhookForm(), shown=hook)


@require_POST
@_tenant_managers
def webhook_test(request, public_id):
    actions.webhook_send_test(webhook=_webhook(request, public_id), by=request.user)
    messages.success(request, _("A test event is on its way; the log below shows how it went."))
    return redirect("notifications:webhooks")


@require_POST
@_tenant_managers
def webhook_delete(request, public_id):
    actions.webhook_delete(webhook=_webhook(request, public_id), by=request.user, request=request)
    messages.success(request, _("The webhook is removed."))
    return redirect("notifications:webhooks")
