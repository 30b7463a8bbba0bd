from django import forms
from django.utils.translation import gettext_lazy as _

from tenants.models import SSHKey

from .models import Image


class ServerCreateForm(forms.Form):
    image = forms.ModelChoiceField(label=_("Image"), queryset=Image.objects.none(), empty_label=None)
    hostname = forms.CharField(label=_("Hostname"), max_length=63, help_text=_("e.g. web-01"))
    cores = forms.IntegerField(label=_("Cores"), min_value=1, max_value=64, initial=2)
    memory_mb = forms.IntegerField(label=_("Memory (MiB)"), min_value=256, max_value=524288, initial=2048, step_size=256)
    disk_gb = forms.IntegerField(label=_("Disk (GiB)"), min_value=4, max_value=4096, initial=20)
    ssh_keys = forms.ModelMultipleChoiceField(
        label=_("SSH keys"), queryset=SSHKey.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    password = forms.CharField(
        label=_("Password"), required=False, widget=forms.PasswordInput(render_value=False), min_length=8,
        help_text=_("Optional; with SSH keys you do not need one."),
    )

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["image"].queryset = Image.available_to(tenant).select_related("cluster")
        self.fields["ssh_keys"].queryset = SSHKey.objects.for_tenant(tenant)

    def clean_hostname(self):
        return self.cleaned_data["hostname"].strip().lower()

    def clean(self):
        data = super().clean()
        if not data.get("ssh_keys") and not data.get("password"):
            raise forms.ValidationError(_("Choose at least one SSH key or set a password, or you cannot log in."))
        return data


class ResizeForm(forms.Form):
    cores = forms.IntegerField(label=_("Cores"), min_value=1, max_value=64)
    memory_mb = forms.IntegerField(label=_("Memory (MiB)"), min_value=256, max_value=524288)
    disk_gb = forms.IntegerField(label=_("Disk (GiB)"), min_value=1, max_value=4096)


class RenameForm(forms.Form):
    hostname = forms.CharField(label=_("New hostname"), max_length=63)

    def clean_hostname(self):
        return self.cleaned_data["hostname"].strip().lower()


class ReinstallForm(forms.Form):
    image = forms.ModelChoiceField(label=_("Image"), queryset=Image.objects.none(), empty_label=None)
    password = forms.CharField(label=_("New password"), required=False, widget=forms.PasswordInput, min_length=8)
    confirm = forms.BooleanField(label=_("I understand that all data on the server is erased."))

    def __init__(self, *args, server, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["image"].queryset = Image.available_to(server.tenant).filter(kind=server.kind, cluster=server.cluster)


class DeleteForm(forms.Form):
    confirm_hostname = forms.CharField(label=_("Type the hostname to confirm"), max_length=63)
