"""The web glue every app's pages share: who may open a page, the tenant-scoped lookup, and how
an action's outcome reaches the user.

The three doors answer alike: an anonymous visitor is sent to the login; a signed-in user
without the right answers 403 (the styled page says what to do); another tenant's object is 404,
so its existence never shows.
"""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login as _redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _

from .models import AuditEvent


def redirect_to_login(request):
    return _redirect_to_login(request.get_full_path())


def _door(allowed, *, on_enter=None, no_tenant=None):
    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request)
            if no_tenant is not None and request.membership is None:
                return no_tenant(request)
            if not allowed(request):
                raise PermissionDenied
            if on_enter is not None:
                on_enter(request)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def tenant_required(permission="view"):
    """A page for members of the current tenant whose role holds `permission`; users without a
    tenant are sent to create one."""
    return _door(lambda request: request.membership.can(permission),
                 no_tenant=lambda request: redirect("tenants:onboarding"))


def _as_admin(request):
    request.audit_via = AuditEvent.Via.ADMIN


def staff_required(permission):
    """A JIKU staff page needing `permission`; what staff do here is audited as via=admin."""
    return _door(lambda request: request.user.is_staff and request.user.has_perm(permission), on_enter=_as_admin)


def sales_required(view):
    """The sales pages (the services.sell permission)."""
    return _door(lambda request: request.user.has_perm("services.sell"))(view)


def get_for_tenant(model_or_qs, tenant, **lookup):
    """One object of the tenant, or 404 - never another tenant's object."""
    if tenant is None:
        raise Http404
    qs = model_or_qs.objects.all() if hasattr(model_or_qs, "objects") else model_or_qs
    return get_object_or_404(qs.for_tenant(tenant), **lookup)


def refusal(exc):
    """An action's refusal in its own words (a ValidationError, or a PermissionDenied with a reason)."""
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or _("You may not do this.")


def add_errors(form, exc):
    """Put an action's ValidationError on the fields it names (or on the form).

    A form whose field differs from the action's argument (memory_gb for memory_mb) names it in
    action_fields.
    """
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            field = getattr(form, "action_fields", {}).get(field, field)
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def attempt(request, call, success):
    """Run one action; tell the user it worked or, in the action's own words, why not."""
    try:
        result = call()
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, refusal(exc))
        return None
    messages.success(request, success)
    return result


def submit_form(request, form, call, success):
    """Validate, call one action, and tell the user what happened, errors named by field."""
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            messages.error(request, f"{label}: {' '.join(errors)}" if label else " ".join(errors))
        return False
    if attempt(request, lambda: call(form.cleaned_data) or True, success) is None:
        return False
    return True
