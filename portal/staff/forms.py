from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from provisioning.models import Cluster, Server
from tenants.models import ServiceRequest, Tenant


class AdoptForm(forms.Form):
    tenant = forms.ModelChoiceField(label=_("Tenant"), queryset=Tenant.objects.all())
    hostname = forms.CharField(label=_("Hostname"), max_length=63)
    kind = forms.ChoiceField(label=_("Type"), choices=Server.Kind.choices)
    cores = forms.IntegerField(label=_("Cores"), min_value=1)
    memory_mb = forms.IntegerField(label=_("Memory (MiB)"), min_value=16)
    disk_gb = forms.IntegerField(label=_("Disk (GiB)"), min_value=1)


class RequestAnswerForm(forms.ModelForm):
    class Meta:
        model = ServiceRequest
        fields = ["state", "assignee", "answer"]
        widgets = {"answer": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = get_user_model().objects.filter(is_staff=True, is_active=True).order_by("email")
        self.fields["assignee"].label_from_instance = lambda u: u.email


class ApplianceForm(forms.Form):
    cluster = forms.ModelChoiceField(label=_("Cluster"), queryset=Cluster.objects.filter(active=True), empty_label=None)
    template = forms.CharField(label=_("Template file from the appliance index"), max_length=200)
    name = forms.CharField(label=_("Name in the catalogue"), max_length=100, required=False)
