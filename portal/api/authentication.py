"""Personal tokens (`Authorization: Bearer jiku_...`) and, for the docs page, the browser session.

A token acts in its own tenant with the lower of its role and the user's current role there, so
demoting or removing a member takes effect on their tokens at once.
"""

from allauth.mfa.models import Authenticator
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from tenants import apitokens
from tenants.actions import api_token_touch
from tenants.models import ApiToken, AuditEvent, Membership


def bind(request, *, tenant, membership, label="", token=None):
    """What views, permissions and audit_record read, put on the Django request under DRF's."""
    django_request = getattr(request, "_request", request)
    django_request.tenant = tenant
    django_request.membership = membership
    django_request.api_token = token
    django_request.audit_via = AuditEvent.Via.API
    if label:
        django_request.audit_actor_label = label


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keywords = (b"bearer", b"token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Send the token as: Authorization: Bearer <token>."))
        text = header[1].decode("latin-1")
        prefix = apitokens.split(text)
        token = ApiToken.objects.select_related("tenant", "user").filter(prefix=prefix).first() if prefix else None
        if token is None or not apitokens.matches(text, token.key_hash):
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed(_("This token has been revoked."))
        if token.is_expired:
            raise exceptions.AuthenticationFailed(_("This token has expired."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("This user account is disabled."))
        membership = Membership.objects.filter(tenant=token.tenant, user=token.user).first()
        if membership is None:
            raise exceptions.AuthenticationFailed(_("The token's user is no longer a member of its tenant."))
        if token.tenant.require_mfa and not Authenticator.objects.filter(
            user=token.user, type=Authenticator.Type.TOTP
        ).exists():
            raise exceptions.AuthenticationFailed(
                _("This tenant requires two-factor authentication; set it up in the portal first.")
            )
        # In memory only, never saved: the role this request may use.
        membership.tenant = token.tenant
        membership.role = token.effective_role(membership.role)
        bind(request, tenant=token.tenant, membership=membership, token=token,
             label=f"{token.user.email} (API: {token.name})")
        api_token_touch(token)
        return token.user, token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class SessionAuthentication(authentication.SessionAuthentication):
    """The signed-in browser (for the docs' "try it out"); CSRF is enforced on every write."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            django_request = request._request
            bind(request, tenant=django_request.tenant, membership=django_request.membership)
        return result


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "portal.api.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "jiku_<id>_<secret>",
            "description": "A personal access token from the portal's API tokens page.",
        }


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "portal.api.authentication.SessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}
