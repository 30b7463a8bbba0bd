"""The server's firewall page: switch it, apply a preset, add, move and delete rules; and the
tenant's address sets, which the rules of all its servers may use."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F, Func, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from tenants.access import add_errors, attempt, get_for_tenant, submit_form, tenant_required

from . import actions
from .forms import AddressSetForm, FirewallOptionsForm, FirewallPresetForm, FirewallRuleForm
from .models import AddressSet, Firewall, FirewallRule, SecurityGroup, Server
from .views import section_page

SAVED = _("Saved; the firewall is being written to the server.")


def _server(request, public_id):
    qs = Server.objects.exclude(status=Server.Status.DELETED).select_related("cluster", "node", "tenant")
    return get_for_tenant(qs, request.tenant, public_id=public_id)


def _rule(server, rule_id):
    return get_object_or_404(FirewallRule.objects.select_related("firewall"), firewall__server=server, public_id=rule_id)


def _back(server):
    return redirect("provisioning:firewall", public_id=server.public_id)


@tenant_required()
def firewall(request, public_id):
    def extra(server):
        # Reading never writes: a server without a firewall row shows the defaults.
        fw = Firewall.objects.filter(server=server).first() or Firewall(server=server)
        tenant = request.tenant
        return {
            "firewall": fw,
            "rules": list(fw.rules.select_related("group", "source_set", "dest_set")) if fw.pk else [],
            "options_form": FirewallOptionsForm(initial={"enabled": fw.enabled, "policy_in": fw.policy_in,
                                                         "policy_out": fw.policy_out}),
            "rule_form": FirewallRuleForm(tenant=tenant),
            "preset_form": FirewallPresetForm(tenant=tenant, presets=actions.PRESETS),
            "address_sets": AddressSet.objects.for_tenant(tenant),
            "security_groups": SecurityGroup.objects.for_tenant(tenant),
            "last_operation": server.operations.filter(kind="firewall").first(),
        }

    return section_page(request, public_id, "firewall", "provisioning/firewall.html", extra)


@require_POST
@tenant_required("operate")
def firewall_options(request, public_id):
    server = _server(request, public_id)
    submit_form(request, FirewallOptionsForm(request.POST), lambda d: actions.firewall_set(
        server=server, user=request.user, request=request, **d), SAVED)
    return _back(server)


@require_POST
@tenant_required("operate")
def firewall_preset(request, public_id):
    server = _server(request, public_id)
    form = FirewallPresetForm(request.POST, tenant=request.tenant, presets=actions.PRESETS)
    submit_form(request, form, lambda d: actions.firewall_preset_apply(
        server=server, user=request.user, request=request, **d), SAVED)
    return _back(server)


@require_POST
@tenant_required("operate")
def firewall_rule_add(request, public_id):
    server = _server(request, public_id)
    form = FirewallRuleForm(request.POST, tenant=request.tenant)
    submit_form(request, form, lambda d: actions.firewall_rule_add(
        server=server, rule=form.rule(), confirm_lockout=d["confirm_lockout"], user=request.user, request=request),
        SAVED)
    return _back(server)


@require_POST
@tenant_required("operate")
def firewall_rule_move(request, public_id, rule_id):
    server = _server(request, public_id)
    rule = _rule(server, rule_id)
    try:
        position = max(0, int(request.POST.get("position", "")))
    except ValueError:
        return _back(server)
    attempt(request, lambda: actions.firewall_rule_move(
        rule=rule, position=position, confirm_lockout=bool(request.POST.get("confirm_lockout")), user=request.user,
        request=request), SAVED)
    return _back(server)


@require_POST
@tenant_required("operate")
def firewall_rule_delete(request, public_id, rule_id):
    server = _server(request, public_id)
    rule = _rule(server, rule_id)
    attempt(request, lambda: actions.firewall_rule_delete(
        rule=rule, confirm_lockout=bool(request.POST.get("confirm_lockout")), user=request.user, request=request),
        SAVED)
    return _back(server)


# --- the tenant's address sets -----------------------------------------------------------------------
def _sets_with_use(tenant):
    """The tenant's sets, each with how many rules name it, in one query however many sets there are."""
    using = (FirewallRule.objects.filter(Q(source_set=OuterRef("pk")) | Q(dest_set=OuterRef("pk")))
             .order_by().annotate(n=Func(F("pk"), function="COUNT")).values("n"))
    return AddressSet.objects.for_tenant(tenant).annotate(rule_count=Coalesce(Subquery(using), 0))


def _save_set(request, form, address_set=None):
    """The action's verdict on a valid form; its refusals land at their fields. True when saved."""
    if not form.is_valid():
        return False
    try:
        actions.address_set_save(tenant=request.tenant, address_set=address_set, user=request.user, request=request,
                                 **form.cleaned_data)
    except ValidationError as exc:
        add_errors(form, exc)
        return False
    if address_set is None:
        messages.success(request, _("The address set %(name)s is added; the firewall rules of your servers can use it "
                                    "now.") % {"name": form.cleaned_data["name"]})
    else:
        messages.success(request, _("The address set %(name)s is saved; servers using it get their firewall "
                                    "rewritten.") % {"name": form.cleaned_data["name"]})
    return True


@tenant_required("view")
def address_sets(request):
    form = AddressSetForm()
    if request.method == "POST":
        if not request.membership.can("operate"):
            raise PermissionDenied  # viewers read the sets; changing them is an operator's work
        form = AddressSetForm(request.POST)
        if _save_set(request, form):
            return redirect("provisioning:address_sets")
    return render(request, "provisioning/address_sets.html", {
        "address_sets": _sets_with_use(request.tenant), "form": form,
        "can_operate": request.membership.can("operate"),
    })


@tenant_required("view")
def address_set_edit(request, public_id):
    address_set = get_for_tenant(_sets_with_use(request.tenant), request.tenant, public_id=public_id)
    if request.method == "POST":
        if not request.membership.can("operate"):
            raise PermissionDenied
        form = AddressSetForm(request.POST)
        if _save_set(request, form, address_set):
            return redirect("provisioning:address_sets")
        address_set.refresh_from_db()  # the refused action had set what was typed on the instance
    else:
        form = AddressSetForm(initial={"name": address_set.name, "entries": "\n".join(address_set.entries),
                                       "description": address_set.description})
    return render(request, "provisioning/address_set_edit.html", {
        "address_set": address_set, "form": form, "can_operate": request.membership.can("operate"),
    })


@require_POST
@tenant_required("operate")
def address_set_delete(request, public_id):
    address_set = get_for_tenant(AddressSet, request.tenant, public_id=public_id)
    attempt(request, lambda: actions.address_set_delete(address_set=address_set, user=request.user, request=request),
            _("The address set %(name)s is deleted.") % {"name": address_set.name})
    return redirect("provisioning:address_sets")
