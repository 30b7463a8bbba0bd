"""Customers ask JIKU (work on duties JIKU holds, quota, questions) and read the answers."""

import re

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from . import actions
from .access import add_errors, tenant_required
from .models import Duty, ServiceRequest

SERVER_NAME_RE = re.compile(r"^[a-z0-9-]{1,63}$")


class ServiceRequestForm(forms.ModelForm):
    """Carries the input; service_request_create decides what a tenant may ask."""

    class Meta:
        model = ServiceRequest
        fields = ["duty", "priority", "subject", "message", "server_public_id", "server_name"]
        labels = {"message": gettext_lazy("What should JIKU do?")}
        widgets = {
            "message": forms.Textarea(attrs={"rows": 5}),
            "priority": forms.RadioSelect,
            "server_public_id": forms.HiddenInput,
            "server_name": forms.HiddenInput,
        }

    def __init__(self, *args, duties=(), hours=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["duty"] = forms.ChoiceField(
            label=_("Topic"), required=False,
            choices=[("", _("General question, more quota, billing"))] + [(d, Duty(d).label) for d in duties],
            help_text=_("Work on a duty is listed where your contract gives it to JIKU."),
        )
        self.fields["priority"].required = False  # normal unless the customer says otherwise
        if hours:
            self.fields["priority"].help_text = _(
                "JIKU answers critical requests within %(critical)s hours, others within %(normal)s hours."
            ) % hours

    def clean_server_name(self):
        name = self.cleaned_data.get("server_name", "")
        # The name only labels the request; the tenant layer cannot look servers up (DESIGN.md 2).
        return name if SERVER_NAME_RE.match(name or "") else ""


def _hours(tenant):
    return {p: actions.response_hours(tenant, p) for p in ServiceRequest.Priority.values}


@tenant_required("view")
def request_list(request):
    requests = ServiceRequest.objects.for_tenant(request.tenant).select_related("created_by")
    return render(request, "tenants/requests.html", {"requests": requests, "hours": _hours(request.tenant)})


@tenant_required("operate")
def request_create(request):
    duties = actions.jiku_duties(request.tenant)
    hours = _hours(request.tenant)
    if request.method == "POST":
        form = ServiceRequestForm(request.POST, duties=duties, hours=hours)
        if form.is_valid():
            try:
                actions.service_request_create(tenant=request.tenant, user=request.user, request=request,
                                               **{f: form.cleaned_data[f] for f in ServiceRequestForm.Meta.fields})
            except ValidationError as exc:
                add_errors(form, exc)
            else:
                messages.success(request, _("Your request was sent to JIKU. You see the answer here."))
                return redirect("tenants:request_list")
    else:
        duty = request.GET.get("duty")
        initial = {"duty": duty if duty in duties else "", "priority": ServiceRequest.Priority.NORMAL}
        server = request.GET.get("server", "")
        if re.fullmatch(r"[0-9a-f-]{36}", server):
            initial["server_public_id"] = server
            initial["server_name"] = request.GET.get("name", "")[:63]
        form = ServiceRequestForm(initial=initial, duties=duties, hours=hours)
    return render(request, "tenants/request_form.html", {"form": form, "server_name": form.initial.get("server_name") or form.data.get("server_name", "")})
