from allauth.account.adapter import DefaultAccountAdapter
from django.urls import reverse

# Where an invitation link opened while signed out waits for the sign-in or sign-up to finish.
INVITATION_SESSION_KEY = "invitation_token"


class AccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request):
        # An invitation opened before signing in is finished right after it.
        return _pending_invitation_url(request) or super().get_login_redirect_url(request)

    def get_signup_redirect_url(self, request):
        return _pending_invitation_url(request) or super().get_signup_redirect_url(request)


def _pending_invitation_url(request):
    token = request.session.get(INVITATION_SESSION_KEY)
    return reverse("tenants:invitation_accept", args=[token]) if token else None
