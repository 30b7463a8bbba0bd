"""The order wizard: location, type, plan, image, access, then a summary with price and quota.

One page whose sections narrow each other down (HTMX re-renders the form when the location or
type changes) and whose summary follows every change; submitting places one Order.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from provisioning.actions import check_quota, quota_usage
from provisioning.models import Cluster, Image, Server
from tenants.access import add_errors, tenant_required
from tenants.models import SSHKey

from .actions import order_create
from .models import Plan
from .pricing import Line, core_licence_line, core_licences, total


class OrderForm(forms.Form):
    cluster = forms.ModelChoiceField(label=gettext_lazy("Location"), queryset=Cluster.objects.none(), empty_label=None)
    kind = forms.ChoiceField(label=gettext_lazy("Type"), choices=Server.Kind.choices, widget=forms.RadioSelect)
    plan = forms.ModelChoiceField(label=gettext_lazy("Plan"), queryset=Plan.objects.none(), widget=forms.RadioSelect, empty_label=None)
    image = forms.ModelChoiceField(label=gettext_lazy("Image or appliance"), queryset=Image.objects.none(), empty_label=None)
    hostname = forms.CharField(label=gettext_lazy("Hostname"), max_length=63, help_text=gettext_lazy("e.g. web-01"))
    ssh_keys = forms.ModelMultipleChoiceField(
        label=gettext_lazy("SSH keys"), queryset=SSHKey.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    password = forms.CharField(
        label=gettext_lazy("Password"), required=False, widget=forms.PasswordInput(render_value=False),
        help_text=gettext_lazy("Optional with SSH keys. At least 10 characters, not a common password, not only digits."),
    )

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["cluster"].queryset = Cluster.objects.filter(active=True)
        source = self.data or self.initial
        kind = source.get("kind") or Server.Kind.LXC
        cluster = source.get("cluster") or (self.fields["cluster"].queryset.values_list("pk", flat=True).first())
        self.fields["plan"].queryset = Plan.objects.filter(active=True, kind=kind)
        images = Image.available_to(tenant).filter(kind=kind)
        images = images.filter(cluster=cluster) if str(cluster or "").isdigit() else images
        self.fields["image"].queryset = images
        # Operating systems, appliances, application containers and JIKU's templates under their own headings.
        groups = {}
        for image in sorted(images, key=lambda i: Image.Source.values.index(i.source)):
            groups.setdefault(image.get_source_display(), []).append((image.pk, image.name))
        self.fields["image"].choices = list(groups.items())
        # Another image changes only the price (a licence), so only the price is fetched again:
        # re-rendering the whole form would drop a password typed meanwhile, and swapping the order
        # button could swallow a click on it.
        self.fields["image"].widget.attrs.update({
            "hx-post": reverse("services:order"), "hx-trigger": "change", "hx-include": "#order-form",
            "hx-target": "#order-price", "hx-select": "#order-price", "hx-swap": "outerHTML",
        })
        self.fields["ssh_keys"].queryset = SSHKey.objects.for_tenant(tenant)

    def clean_hostname(self):
        return self.cleaned_data["hostname"].strip().lower()

    def clean(self):
        data = super().clean()
        if data.get("hostname") is not None and not data.get("ssh_keys") and not data.get("password"):
            self.add_error("password", _("Choose at least one SSH key or set a password, or you cannot log in."))
        return data


def summary_for(tenant, plan, image=None):
    """Monthly price lines and the quota as it would be after this order (None without a plan).

    A Windows image brings its per-core licence, which billing charges with the server."""
    if plan is None:
        return None
    licences = core_licences(image)
    lines = [Line(plan.name, 1, plan.price_monthly)] + [core_licence_line(lic, cores=plan.cores) for lic in licences]
    used = quota_usage(tenant)
    after = [
        (_("Servers"), used["servers"] + 1, tenant.max_servers, ""),
        (_("Cores"), used["cores"] + plan.cores, tenant.max_cores, ""),
        (_("Memory"), used["memory_mb"] + plan.memory_mb, tenant.max_memory_mb, "memory"),
        (_("Disk"), used["disk_gb"] + plan.disk_gb, tenant.max_disk_gb, "disk"),
    ]
    blocked = ""
    try:
        check_quota(tenant, cores=plan.cores, memory_mb=plan.memory_mb, disk_gb=plan.disk_gb)
    except ValidationError as exc:
        blocked = " ".join(exc.messages)
    return {"plan": plan, "lines": lines, "licences": licences, "totals": total(lines), "after": after, "blocked": blocked}


def _selected(form, name):
    raw = (form.data if form.is_bound else form.initial).get(name)
    return form.fields[name].queryset.filter(pk=raw).first() if str(raw or "").isdigit() else None


@tenant_required("operate")
def order(request):
    """GET shows the wizard; a change (HTMX) re-renders it for the choices so far; "place" orders."""
    placing = request.method == "POST" and "place" in request.POST
    if placing:
        form = OrderForm(request.POST, tenant=request.tenant)
        if form.is_valid():
            data = form.cleaned_data
            try:
                placed = order_create(
                    tenant=request.tenant, plan=data["plan"], image=data["image"], hostname=data["hostname"],
                    ssh_keys=data["ssh_keys"], password=data["password"], user=request.user, request=request,
                )
            except ValidationError as exc:
                add_errors(form, exc)
            else:
                messages.success(request, _("Ordered: %(name)s is being built.") % {"name": placed.server.hostname})
                return redirect("provisioning:server_detail", public_id=placed.server.public_id)
    else:
        choices = request.POST if request.method == "POST" else request.GET
        form = OrderForm(initial={k: choices.getlist(k) if k == "ssh_keys" else choices.get(k) for k in choices}, tenant=request.tenant)
    return render(request, "services/order.html", {"form": form, "summary": summary_for(request.tenant, _selected(form, "plan"), _selected(form, "image"))})
