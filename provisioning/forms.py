from django import forms
from django.utils.translation import gettext_lazy as _

from tenants.models import SSHKey

from .models import AddressSet, FirewallRule, Image, SecurityGroup, Verdict


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
        label=_("Password"), required=False, widget=forms.PasswordInput(render_value=False),
        help_text=_("Optional with SSH keys. At least 10 characters, not a common password, not only digits."),
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
    password = forms.CharField(
        label=_("New password"), required=False, widget=forms.PasswordInput,
        help_text=_("At least 10 characters, not a common password, not only digits."),
    )
    confirm = forms.BooleanField(label=_("I understand that all data on the server is erased."))

    def __init__(self, *args, server, **kwargs):
        super().__init__(*args, **kwargs)
        images = Image.available_to(server.tenant).filter(kind=server.kind, cluster=server.cluster)
        self.fields["image"].queryset = images
        # Offer only images that exist on the server's node; server_reinstall refuses the others.
        self.fields["image"].choices = [(i.pk, i.name) for i in images if i.installs_on(server.node)]


class DeleteForm(forms.Form):
    confirm_hostname = forms.CharField(label=_("Type the hostname to confirm"), max_length=63)


class SnapshotForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=40, help_text=_("e.g. before_update"))
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    include_ram = forms.BooleanField(label=_("Include RAM (virtual machines only)"), required=False)


class RollbackForm(forms.Form):
    start = forms.BooleanField(label=_("Start afterwards"), required=False, initial=True)


class BackupForm(forms.Form):
    mode = forms.ChoiceField(
        label=_("Mode"),
        choices=[("snapshot", _("Snapshot (no downtime)")), ("suspend", _("Suspend")), ("stop", _("Stop"))],
    )
    notes = forms.CharField(label=_("Notes"), max_length=200, required=False)
    protected = forms.BooleanField(label=_("Protect from deletion"), required=False)


class BackupPolicyForm(forms.Form):
    # Unticked until the customer saves a schedule: a page must not claim backups run when none do.
    enabled = forms.BooleanField(label=_("Scheduled backups"), required=False, initial=False)
    frequency = forms.ChoiceField(label=_("Frequency"), choices=[("daily", _("Daily")), ("weekly", _("Weekly"))])
    weekday = forms.TypedChoiceField(
        label=_("Weekday"),
        coerce=int,
        choices=[(0, _("Monday")), (1, _("Tuesday")), (2, _("Wednesday")), (3, _("Thursday")), (4, _("Friday")),
                 (5, _("Saturday")), (6, _("Sunday"))],
    )
    # Not type="time": Chromium draws that in the browser's locale ("02:00 AM" in a German page).
    time = forms.TimeField(
        label=_("Time"), initial="02:00",
        widget=forms.TimeInput(format="%H:%M", attrs={"inputmode": "numeric", "pattern": "[0-2][0-9]:[0-5][0-9]", "size": 5,
                                                      "placeholder": "HH:MM", "class": "narrow"}),
    )
    keep_last = forms.IntegerField(label=_("Keep last"), min_value=0, max_value=100, initial=3)
    keep_daily = forms.IntegerField(label=_("Keep daily"), min_value=0, max_value=100, initial=7)
    keep_weekly = forms.IntegerField(label=_("Keep weekly"), min_value=0, max_value=100, initial=4)
    keep_monthly = forms.IntegerField(label=_("Keep monthly"), min_value=0, max_value=100, initial=0)


class RestoreForm(forms.Form):
    target = forms.ChoiceField(
        label=_("Restore"), choices=[("new", _("into a new server")), ("same", _("over the original server"))]
    )
    hostname = forms.CharField(label=_("Hostname of the new server"), max_length=63, required=False)
    confirm = forms.BooleanField(label=_("I understand that the original server's data is replaced."), required=False)

    def __init__(self, *args, allow_same=True, **kwargs):
        super().__init__(*args, **kwargs)
        if not allow_same:
            # The contract gives rollbacks to JIKU, or the original server is gone: a new server only.
            self.fields["target"].choices = [("new", _("into a new server"))]
            del self.fields["confirm"]

    def clean(self):
        data = super().clean()
        if data.get("target") == "new" and not data.get("hostname"):
            self.add_error("hostname", _("Enter a hostname for the new server."))
        return data


# --- firewall ----------------------------------------------------------------------------------------
class FirewallOptionsForm(forms.Form):
    enabled = forms.BooleanField(label=_("Firewall on"), required=False)
    policy_in = forms.ChoiceField(label=_("Incoming by default"), choices=Verdict.choices)
    policy_out = forms.ChoiceField(label=_("Outgoing by default"), choices=Verdict.choices)
    confirm_lockout = forms.BooleanField(label=_("I know SSH and RDP may be closed"), required=False)


class FirewallRuleForm(forms.Form):
    group = forms.ModelChoiceField(label=_("Security group"), queryset=SecurityGroup.objects.none(), required=False,
                                   help_text=_("Applies the group's rules here; the fields below are then ignored."))
    direction = forms.ChoiceField(label=_("Direction"), choices=FirewallRule.Direction.choices)
    action = forms.ChoiceField(label=_("Action"), choices=Verdict.choices)
    protocol = forms.ChoiceField(label=_("Protocol"), choices=FirewallRule.Protocol.choices, required=False)
    dest_port = forms.CharField(label=_("Port(s)"), max_length=120, required=False, help_text=_("e.g. 22, 80,443 or 8000-8080"))
    source = forms.CharField(label=_("Source"), max_length=400, required=False,
                             help_text=_("Addresses, networks or ranges; empty means any."))
    source_set = forms.ModelChoiceField(label=_("or source address set"), queryset=AddressSet.objects.none(),
                                        required=False)
    comment = forms.CharField(label=_("Comment"), max_length=100, required=False)
    confirm_lockout = forms.BooleanField(label=_("I know SSH and RDP may be closed"), required=False)

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = SecurityGroup.objects.for_tenant(tenant)
        self.fields["source_set"].queryset = AddressSet.objects.for_tenant(tenant)

    def rule(self):
        data = self.cleaned_data
        if data["group"] is not None:
            return {"group": data["group"]}
        return {k: data[k] for k in ("direction", "action", "protocol", "dest_port", "source", "source_set", "comment")}


class FirewallPresetForm(forms.Form):
    preset = forms.ChoiceField(label=_("Preset"), choices=[])
    source = forms.CharField(label=_("Office or VPN addresses"), max_length=400, required=False,
                             help_text=_("e.g. 203.0.113.0/24"))
    source_set = forms.ModelChoiceField(label=_("or an address set"), queryset=AddressSet.objects.none(), required=False)
    confirm_lockout = forms.BooleanField(label=_("I know SSH and RDP may be closed"), required=False)

    def __init__(self, *args, tenant, presets, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["preset"].choices = list(presets.items())
        self.fields["source_set"].queryset = AddressSet.objects.for_tenant(tenant)
class PtrForm(forms.Form):
    """Validated again by the action (ownership, forward lookup); the form checks the shape."""

    address = forms.GenericIPAddressField(label=_("Address"))
    name = forms.CharField(label=_("Host name"), max_length=253, help_text=_("e.g. mail.example.com"))
