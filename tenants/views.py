from allauth.account.adapter import get_adapter
from allauth.account.models import EmailAddress
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import actions
from .access import get_for_tenant, tenant_required
from .adapters import INVITATION_SESSION_KEY
from .forms import InvitationForm, RoleForm, SSHKeyForm, TenantCreateForm, TenantSettingsForm
from .middleware import SESSION_KEY
from .models import AuditEvent, Invitation, Membership, SSHKey, Tenant


def _post_only(request):
    # Checked after the tenant-scoped lookup, so a foreign id answers 404 whatever the method.
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    return None


@login_required
def onboarding(request):
    if request.memberships:
        return redirect("dashboard")
    if request.user.is_staff:
        # Staff have no tenant of their own (tenants.actions.tenant_create refuses it): show their way in.
        return render(request, "tenants/staff_home.html")
    form = TenantCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            tenant = actions.tenant_create(name=form.cleaned_data["name"], owner=request.user, request=request)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            request.session[SESSION_KEY] = tenant.pk
            messages.success(request, _("Your tenant %(name)s is ready.") % {"name": tenant.name})
            return redirect("dashboard")
    return render(request, "tenants/onboarding.html", {"form": form})


@login_required
@require_POST
def switch(request):
    membership = next((m for m in request.memberships if m.tenant.slug == request.POST.get("tenant")), None)
    if membership is None:
        raise Http404
    request.session[SESSION_KEY] = membership.tenant_id
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect("dashboard")


def _team_page(request, *, invite_form=None, row_errors=None, leave_error=None):
    """The team page; `row_errors` maps a membership pk to the messages shown in its row."""
    tenant, can_manage, row_errors = request.tenant, request.membership.can("manage_team"), row_errors or {}
    members = Membership.objects.for_tenant(tenant).select_related("user").order_by("user__email")
    rows = [
        {
            "membership": member,
            "form": RoleForm(initial={"role": member.role}, prefix=str(member.public_id)),
            "errors": row_errors.get(member.pk, []),
            "is_me": member.user_id == request.user.pk,
        }
        for member in members
    ]
    invitations = []
    if can_manage:
        invitations = Invitation.objects.for_tenant(tenant).filter(accepted_at__isnull=True).select_related("invited_by")
    return render(request, "tenants/team.html", {
        "rows": rows,
        "invitations": invitations,
        "can_manage": can_manage,
        "invite_form": invite_form or InvitationForm(),
        "leave_error": leave_error,
    })


@tenant_required("view")
def team(request):
    if request.method != "POST":
        return _team_page(request)
    if not request.membership.can("manage_team"):
        raise PermissionDenied
    form = InvitationForm(request.POST)
    if form.is_valid():
        try:
            invitation = actions.invitation_create(
                tenant=request.tenant, email=form.cleaned_data["email"], role=form.cleaned_data["role"],
                invited_by=request.user, request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Invitation sent to %(email)s.") % {"email": invitation.email})
            return redirect("tenants:team")
    return _team_page(request, invite_form=form)


@tenant_required("manage_team")
def member_role(request, public_id):
    membership = get_for_tenant(Membership, request.tenant, public_id=public_id)
    if response := _post_only(request):
        return response
    form = RoleForm(request.POST, prefix=str(membership.public_id))
    if form.is_valid():
        try:
            actions.membership_set_role(
                membership=membership, role=form.cleaned_data["role"], by=request.user, request=request
            )
        except ValidationError as exc:
            return _team_page(request, row_errors={membership.pk: exc.messages})
        messages.success(request, _("Role of %(email)s changed.") % {"email": membership.user.email})
        return redirect("tenants:team")
    errors = [error for field_errors in form.errors.values() for error in field_errors]
    return _team_page(request, row_errors={membership.pk: errors})


@tenant_required("manage_team")
def member_remove(request, public_id):
    membership = get_for_tenant(Membership, request.tenant, public_id=public_id)
    if response := _post_only(request):
        return response
    if membership.user_id == request.user.pk:
        return leave(request)
    try:
        actions.membership_remove(membership=membership, by=request.user, request=request)
    except ValidationError as exc:
        return _team_page(request, row_errors={membership.pk: exc.messages})
    messages.success(request, _("%(email)s was removed from the team.") % {"email": membership.user.email})
    return redirect("tenants:team")


@tenant_required("view")
def leave(request):
    if response := _post_only(request):
        return response
    try:
        actions.membership_remove(membership=request.membership, by=request.user, request=request)
    except ValidationError as exc:
        return _team_page(request, leave_error=" ".join(exc.messages))
    request.session.pop(SESSION_KEY, None)
    messages.success(request, _("You have left %(name)s.") % {"name": request.tenant.name})
    return redirect("dashboard")


@tenant_required("manage_team")
def invitation_revoke(request, invitation_id):
    invitation = get_for_tenant(Invitation, request.tenant, id=invitation_id, accepted_at__isnull=True)
    if response := _post_only(request):
        return response
    actions.invitation_revoke(invitation=invitation, by=request.user, request=request)
    messages.success(request, _("Invitation for %(email)s revoked.") % {"email": invitation.email})
    return redirect("tenants:team")


def invitation_accept(request, token):
    invitation = get_object_or_404(Invitation.objects.select_related("tenant", "invited_by"), token=token)
    if not request.user.is_authenticated:
        return _send_to_sign_in(request, invitation)
    # Whatever happens now, later sign-ins must not keep coming back here.
    request.session.pop(INVITATION_SESSION_KEY, None)
    error = None
    if request.method == "POST":
        try:
            membership = actions.invitation_accept(invitation=invitation, user=request.user, request=request)
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            request.session[SESSION_KEY] = membership.tenant_id
            messages.success(request, _("Welcome to %(name)s.") % {"name": membership.tenant.name})
            return redirect("dashboard")
    email_matches = EmailAddress.objects.filter(
        user=request.user, email__iexact=invitation.email, verified=True
    ).exists()
    return render(request, "tenants/invitation.html", {
        "invitation": invitation, "error": error, "email_matches": email_matches,
    })


def _send_to_sign_in(request, invitation):
    if not invitation.is_open:
        return render(request, "tenants/invitation.html", {"invitation": invitation, "error": None})
    request.session[INVITATION_SESSION_KEY] = invitation.token
    if EmailAddress.objects.filter(email__iexact=invitation.email).exists():
        messages.info(request, _("Please sign in as %(email)s to join %(name)s.") % {
            "email": invitation.email, "name": invitation.tenant.name})
        return redirect("account_login")
    # The mail with the link proves the address, so signing up with it needs no second confirmation.
    get_adapter(request).stash_verified_email(request, invitation.email)
    messages.info(request, _("Create your account to join %(name)s.") % {"name": invitation.tenant.name})
    return redirect(reverse("account_signup") + "?" + urlencode({"email": invitation.email}))


@tenant_required("view")
def ssh_keys(request):
    form = SSHKeyForm(request.POST or None)
    if request.method == "POST":
        if not request.membership.can("operate"):
            raise PermissionDenied
        if form.is_valid():
            try:
                key = actions.ssh_key_add(
                    tenant=request.tenant, user=request.user, name=form.cleaned_data["name"],
                    public_key=form.cleaned_data["public_key"], request=request,
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("SSH key %(name)s added.") % {"name": key.name})
                return redirect("tenants:ssh_keys")
    keys = SSHKey.objects.for_tenant(request.tenant).select_related("user")
    return render(request, "tenants/ssh_keys.html", {"keys": keys, "form": form})


@tenant_required("operate")
def ssh_key_delete(request, key_id):
    key = get_for_tenant(SSHKey, request.tenant, id=key_id)
    if response := _post_only(request):
        return response
    actions.ssh_key_delete(key=key, by=request.user, request=request)
    messages.success(request, _("SSH key %(name)s deleted.") % {"name": key.name})
    return redirect("tenants:ssh_keys")


@tenant_required("manage_tenant")
def tenant_settings(request):
    tenant = request.tenant
    # A ModelForm writes into its instance while validating; the action must see the stored values.
    form = TenantSettingsForm(request.POST or None, instance=Tenant.objects.get(pk=tenant.pk))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            actions.tenant_update(
                tenant=tenant, by=request.user, request=request, name=data["name"],
                billing_address=data["billing_address"], vat_id=data["vat_id"], require_mfa=data["require_mfa"],
                time_zone=data["time_zone"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Settings saved."))
            return redirect("tenants:settings")
    return render(request, "tenants/settings.html", {"form": form})


@tenant_required("audit")
def audit(request):
    events = AuditEvent.objects.for_tenant(request.tenant).select_related("actor")
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(request, "tenants/audit.html", {"page": page})
