"""Customers ask JIKU for work on duties JIKU holds under their contract, and read the answers."""

import re

from django import forms
from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, override

from notifications.actions import event_record

from .access import tenant_required
from .audit import audit_record
from .models import Duty, Party, ServiceRequest

SERVER_NAME_RE = re.compile(r"^[a-z0-9-]{1,63}$")


class ServiceRequestForm(forms.ModelForm):
    class Meta:
        model = ServiceRequest
        fields = ["duty", "subject", "message", "server_public_id", "server_name"]
        labels = {"message": gettext_lazy("What should JIKU do?")}
        widgets = {
            "message": forms.Textarea(attrs={"rows": 5}),
            "server_public_id": forms.HiddenInput,
            "server_name": forms.HiddenInput,
        }

    def __init__(self, *args, duties=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["duty"] = forms.ChoiceField(
            label=_("Duty"), choices=[(d, Duty(d).label) for d in duties],
            help_text=_("Only what JIKU does for you under your contract."),
        )

    def clean_server_name(self):
        name = self.cleaned_data.get("server_name", "")
        # The name only labels the request; the tenant layer cannot look servers up (DESIGN.md 2).
        return name if SERVER_NAME_RE.match(name or "") else ""


def _jiku_duties(tenant):
    return [r.duty for r in tenant.responsibilities.all() if r.party == Party.JIKU]


@tenant_required("view")
def request_list(request):
    requests = ServiceRequest.objects.for_tenant(request.tenant).select_related("created_by")
    return render(request, "tenants/requests.html", {"requests": requests, "can_ask": bool(_jiku_duties(request.tenant))})


@tenant_required("operate")
def request_create(request):
    duties = _jiku_duties(request.tenant)
    if not duties:
        messages.info(request, _("Your tenant does everything itself; there is nothing JIKU holds to ask for."))
        return redirect("tenants:request_list")
    if request.method == "POST":
        form = ServiceRequestForm(request.POST, duties=duties)
        if form.is_valid():
            req = form.save(commit=False)
            req.tenant = request.tenant
            req.created_by = request.user
            with transaction.atomic():
                req.save()
                audit_record(action="request.create", tenant=request.tenant, request=request, obj=req,
                             details={"duty": req.duty, "server": req.server_name})
                with override(None):
                    duty = str(Duty(req.duty).label)
                event_record(tenant=request.tenant, kind="staff_request_new", subject_object=req, payload={
                    "subject": req.subject, "message": req.message, "duty": duty, "server": req.server_name,
                    "by": request.user.email, "path": reverse("staff:requests"),
                })
            messages.success(request, _("Your request was sent to JIKU. You see the answer here."))
            return redirect("tenants:request_list")
    else:
        initial = {"duty": request.GET.get("duty") if request.GET.get("duty") in duties else duties[0]}
        server = request.GET.get("server", "")
        if re.fullmatch(r"[0-9a-f-]{36}", server):
            initial["server_public_id"] = server
            initial["server_name"] = request.GET.get("name", "")[:63]
        form = ServiceRequestForm(initial=initial, duties=duties)
    return render(request, "tenants/request_form.html", {"form": form, "server_name": form.initial.get("server_name") or form.data.get("server_name", "")})
