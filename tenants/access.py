"""The tenant-scoped lookup every customer-facing view goes through."""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect


def tenant_required(permission="view"):
    """A view for members of the current tenant holding `permission`.

    Users without any tenant are sent to create one; a role too low answers 403.
    """

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request)
            if request.membership is None:
                return redirect("tenants:onboarding")
            if not request.membership.can(permission):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def redirect_to_login(request):
    from django.contrib.auth.views import redirect_to_login as _redirect

    return _redirect(request.get_full_path())


def get_for_tenant(model_or_qs, tenant, **lookup):
    """One object of the tenant, or 404 - never another tenant's object."""
    if tenant is None:
        raise Http404
    qs = model_or_qs.objects.all() if hasattr(model_or_qs, "objects") else model_or_qs
    return get_object_or_404(qs.for_tenant(tenant), **lookup)
