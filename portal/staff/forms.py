from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from provisioning.models import Cluster, Server
from tenants.models import ServiceRequest, Tenant


class MaintenanceAnnounceForm(forms.Form):
    starts_at = forms.DateTimeField(label=_("From"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    ends_at = forms.DateTimeField(label=_("Until"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    note = forms.CharField(label=_("Note for the customers"), required=False, max_length=500,
                           widget=forms.Textarea(attrs={"rows": 2}))


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


class OciForm(forms.Form):
    cluster = forms.ModelChoiceField(label=_("Cluster"), queryset=Cluster.objects.filter(active=True), empty_label=None)
    reference = forms.CharField(
        label=_("Image"), max_length=255,
        help_text=_("With its tag, e.g. docker.io/library/nginx:1.27; add @sha256:… to pin a digest you checked."),
    )
    name = forms.CharField(label=_("Name in the catalogue"), max_length=100, required=False)


class OwnTemplateForm(forms.Form):
    cluster = forms.ModelChoiceField(label=_("Cluster"), queryset=Cluster.objects.filter(active=True), empty_label=None)
    server = forms.IntegerField(label=_("VMID of the prepared server"), min_value=1)
    name = forms.CharField(label=_("Name in the catalogue"), max_length=100)
    description = forms.CharField(label=_("Description"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    for_everyone = forms.BooleanField(
        label=_("Offer to every customer"), required=False,
        help_text=_("Otherwise only the server's own tenant can order it."),
    )

    def clean(self):
        data = super().clean()
        if data.get("cluster") and data.get("server"):
            server = (
                Server.objects.live().select_related("node", "image")
                .filter(cluster=data["cluster"], vmid=data["server"]).first()
            )
            if server is None:
                self.add_error("server", _("No server of this cluster has this VMID."))
            else:
                data["server"] = server
        return data
