from types import SimpleNamespace
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings
from django.urls import reverse

# Where an invitation link opened while signed out waits for the sign-in or sign-up to finish.
INVITATION_SESSION_KEY = "invitation_token"


class AccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request):
        # An invitation opened before signing in is finished right after it.
        return _pending_invitation_url(request) or super().get_login_redirect_url(request)

    def get_signup_redirect_url(self, request):
        return _pending_invitation_url(request) or super().get_signup_redirect_url(request)

    def send_mail(self, template_prefix, email, context):
        # allauth's templates greet from "current_site"; without django.contrib.sites that is the
        # request's host ("127.0.0.1:8101"). The portal's configured name and address instead.
        site = SimpleNamespace(name=settings.PORTAL_NAME, domain=urlsplit(settings.SITE_URL).netloc)
        super().send_mail(template_prefix, email, {**context, "current_site": site})


def _pending_invitation_url(request):
    token = request.session.get(INVITATION_SESSION_KEY)
    return reverse("tenants:invitation_accept", args=[token]) if token else None
