from allauth.account.adapter import DefaultAccountAdapter
from django.urls import reverse


class AccountAdapter(DefaultAccountAdapter):
    def get_login_redirect_url(self, request):
        # An invitation opened before signing in is finished right after it.
        token = request.session.get("invitation_token")
        if token:
            return reverse("tenants:invitation_accept", args=[token])
        return super().get_login_redirect_url(request)
