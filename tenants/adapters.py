from types import SimpleNamespace
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from notifications.models import MailSettings

# Where an invitation link opened while signed out waits for the sign-in or sign-up to finish.
INVITATION_SESSION_KEY = "invitation_token"


class AccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request):
        # An invitation opened before signing in is finished right after it.
        return _pending_invitation_url(request) or super().get_login_redirect_url(request)

    def get_signup_redirect_url(self, request):
        return _pending_invitation_url(request) or super().get_signup_redirect_url(request)

    def send_mail(self, template_prefix, email, context):
        """allauth's mails (confirmation, password reset, two-factor changes) as the portal's own: its
        configured name and address instead of the request's host ("127.0.0.1:8101"), in the
        language the user reads mails in, with the branded HTML part the notifications have."""
        request = allauth_context.request
        site = SimpleNamespace(name=settings.PORTAL_NAME, domain=urlsplit(settings.SITE_URL).netloc)
        ctx = {"request": request, "email": email, **context, "current_site": site}
        if request is not None:
            origin = request.build_absolute_uri("/")
            for key, value in ctx.items():  # activate_url, password_reset_url, signup_url
                if isinstance(value, str) and value.startswith(origin):
                    ctx[key] = settings.SITE_URL.rstrip("/") + "/" + value[len(origin):]
        with translation.override(_language_of(ctx.get("user"), email)):
            msg = self.render_mail(template_prefix, email, ctx)
            if not isinstance(msg, EmailMultiAlternatives):
                msg = EmailMultiAlternatives(msg.subject, msg.body, msg.from_email, msg.to, headers=msg.extra_headers)
            if not msg.alternatives:
                msg.attach_alternative(render_to_string("notifications/email/account.html", {
                    "subject": msg.subject, "body": msg.body, "portal_name": settings.PORTAL_NAME}), "text/html")
        msg.extra_headers.setdefault("Auto-Submitted", "auto-generated")
        msg.send()


def _language_of(user, email):
    """The mail language the user chose on the notifications page; else the page's language."""
    if user is None or not getattr(user, "pk", None):
        user = get_user_model().objects.filter(email__iexact=email).first()
    chosen = MailSettings.objects.filter(user=user).values_list("language", flat=True).first() if user else None
    return chosen or translation.get_language() or settings.LANGUAGE_CODE


def _pending_invitation_url(request):
    token = request.session.get(INVITATION_SESSION_KEY)
    return reverse("tenants:invitation_accept", args=[token]) if token else None
