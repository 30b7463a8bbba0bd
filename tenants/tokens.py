"""The API tokens page: create (the token is shown once), list with last use, revoke."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from . import actions
from .access import get_for_tenant, tenant_required
from .models import ROLE_RANK, ApiToken, Role
from .views import _post_only


class ApiTokenForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100, help_text=_("e.g. ci-pipeline or backup-script"))
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    expires_days = forms.IntegerField(
        label=_("Expires after (days)"), required=False, min_value=1, max_value=actions.MAX_TOKEN_DAYS,
        help_text=_("Empty: the token does not expire."),
    )

    def __init__(self, *args, membership, **kwargs):
        super().__init__(*args, **kwargs)
        rank = ROLE_RANK[Role(membership.role)]
        self.fields["role"].choices = [(value, label) for value, label in Role.choices if ROLE_RANK[Role(value)] <= rank]
        self.fields["role"].initial = Role.MEMBER if rank >= ROLE_RANK[Role.MEMBER] else Role.VIEWER


def _page(request, form, new_token=None):
    tokens = ApiToken.objects.for_tenant(request.tenant).select_related("user")
    can_manage = request.membership.can("manage_team")
    if not can_manage:
        tokens = tokens.filter(user=request.user)
    return render(request, "tenants/api_tokens.html", {
        "tokens": tokens, "form": form, "new_token": new_token, "can_manage": can_manage,
    })


@never_cache
@tenant_required("view")
def api_tokens(request):
    form = ApiTokenForm(request.POST or None, membership=request.membership)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            token, text = actions.api_token_create(
                tenant=request.tenant, user=request.user, name=data["name"], role=data["role"],
                expires_days=data["expires_days"], request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            # Rendered, not redirected: the secret must not pass through the session or a URL.
            messages.success(request, _("Token %(name)s created. Copy it now: it is shown only once.") % {"name": token.name})
            return _page(request, ApiTokenForm(membership=request.membership), new_token=text)
    return _page(request, form)


@tenant_required("view")
def api_token_revoke(request, public_id):
    token = get_for_tenant(ApiToken, request.tenant, public_id=public_id)
    if token.user_id != request.user.pk and not request.membership.can("manage_team"):
        raise Http404  # other people's tokens are invisible to plain members
    if response := _post_only(request):
        return response
    try:
        actions.api_token_revoke(token=token, by=request.user, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Token %(name)s revoked.") % {"name": token.name})
    return redirect("tenants:api_tokens")
