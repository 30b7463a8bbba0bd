import zoneinfo

from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from .models import Membership

SESSION_KEY = "tenant_id"
# Paths a member of an MFA-requiring tenant may still reach before setting up two-factor.
MFA_EXEMPT_PREFIXES = ("/accounts/", "/i18n/", "/static/", "/healthz", "/invitations/")


class CurrentTenantMiddleware:
    """Puts the user's current tenant and membership on the request (None for outsiders)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.tenant = None
        request.membership = None
        request.memberships = []
        timezone.deactivate()  # a worker thread serves many requests: nobody keeps the last tenant's zone
        if request.user.is_authenticated:
            memberships = list(Membership.objects.filter(user=request.user).select_related("tenant"))
            request.memberships = memberships
            wanted = request.session.get(SESSION_KEY)
            current = next((m for m in memberships if m.tenant_id == wanted), None) or (
                memberships[0] if memberships else None
            )
            if current is not None:
                request.membership = current
                request.tenant = current.tenant
                _activate_zone(current.tenant.time_zone)
                if current.tenant.require_mfa and not request.path.startswith(MFA_EXEMPT_PREFIXES):
                    if not _has_totp(request.user):
                        return redirect(reverse("mfa_activate_totp") + "?next=" + request.path)
        return self.get_response(request)


def _activate_zone(name):
    """Times on the pages in the tenant's zone, as its mails and backup schedule have them; a zone
    stored before zones were checked (or removed from the system's database) leaves the portal's."""
    try:
        timezone.activate(zoneinfo.ZoneInfo(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        pass


def _has_totp(user):
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
