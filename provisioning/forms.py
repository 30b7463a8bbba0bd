from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _

from tenants.models import SSHKey

from .models import AddressSet, FirewallRule, Image, SecurityGroup, Verdict


def gb(mib):
    """MiB as the GB a customer types (1 GB = 1024 MiB): 1536 -> 1.5."""
    return Decimal(mib) / 1024  # exact: a power of two, so no rounding and no "1.50"


def gb_and_mib(mib):
    """ "1,5 GB (1536 MiB)": the exact figure Proxmox shows beside the one people read."""
    return _("%(gb)s GB (%(mib)s MiB)") % {"gb": number_format(gb(mib)), "mib": number_format(mib)}


class MemoryField(forms.DecimalField):
    """Memory in GB, as customers read it; the form turns it into MiB (1 GB = 1024 MiB, as Proxmox counts).

    A text field, not type="number": the browser would read and show the number in its own locale,
    and "1,5" in a German page would be refused. Django reads the active language's separator.
    """

    STEP = Decimal("0.25")  # 256 MiB, the smallest guest and the order form's step before it spoke GB

    def __init__(self, *, max_mb, **kwargs):
        self.max_mb = max_mb
        kwargs.setdefault("help_text", _("1 GB = 1024 MiB, as Proxmox counts; in steps of 0.25 GB (256 MiB)."))
        super().__init__(localize=True, widget=forms.TextInput(attrs={"inputmode": "decimal"}), **kwargs)

    def to_mib(self, value, *, keep_mb=None):
        """The MiB for a cleaned GB value, or a ValidationError in the customer's words.

        keep_mb, the server's size now, is taken as it is even off the steps (a guest sized in Proxmox),
        so that a customer can grow the disk without touching the memory.
        """
        mib = value * 1024
        if keep_mb is not None and mib == keep_mb:
            return keep_mb
        if not self.STEP <= value <= gb(self.max_mb):
            raise ValidationError(_("Choose from %(min)s to %(max)s GB."), params={
                "min": number_format(self.STEP), "max": number_format(gb(self.max_mb))})
        if value % self.STEP:
            raise ValidationError(_("Enter the memory in steps of 0.25 GB, e.g. 0.5, 1.5 or 2."))
        return int(mib)


class GBSizesMixin:
    """Memory typed as memory_gb, handed on as memory_mb, the unit of the actions and the API."""

    # An action's error about memory_mb belongs at the field the customer typed it in.
    action_fields = {"memory_mb": "memory_gb"}
    keep_mb = None

    def clean_memory_gb(self):
        value = self.cleaned_data["memory_gb"]
        return self.fields["memory_gb"].to_mib(value, keep_mb=self.keep_mb)

    def clean(self):
        data = super().clean()
        if "memory_gb" in data:
            data["memory_mb"] = data.pop("memory_gb")
        return data


class ServerCreateForm(GBSizesMixin, forms.Form):
    image = forms.ModelChoiceField(label=_("Image"), queryset=Image.objects.none(), empty_label=None)
    hostname = forms.CharField(label=_("Hostname"), max_length=63, help_text=_("e.g. web-01"))
    cores = forms.IntegerField(label=_("Cores"), min_value=1, max_value=64, initial=2)
    memory_gb = MemoryField(label=_("Memory (GB)"), max_mb=524288, initial=2)
    disk_gb = forms.IntegerField(label=_("Disk (GB)"), min_value=4, max_value=4096, initial=20,
                                 help_text=_("1 GB = 1024 MiB, as Proxmox counts."))
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


class ResizeForm(GBSizesMixin, forms.Form):
    cores = forms.IntegerField(label=_("Cores"), min_value=1, max_value=64)
    memory_gb = MemoryField(label=_("Memory (GB)"), max_mb=524288)
    disk_gb = forms.IntegerField(label=_("Disk (GB)"), min_value=1, max_value=4096)

    def __init__(self, *args, server, **kwargs):
        kwargs.setdefault("initial", {"cores": server.cores, "memory_gb": gb(server.memory_mb), "disk_gb": server.disk_gb})
        super().__init__(*args, **kwargs)
        self.keep_mb = server.memory_mb
        self.fields["memory_gb"].help_text = _("Now %(size)s; in steps of 0.25 GB.") % {
            "size": gb_and_mib(server.memory_mb)}
        self.fields["disk_gb"].help_text = _("Now %(size)s GB. Disks can only grow.") % {"size": number_format(server.disk_gb)}


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


class AddressSetForm(forms.Form):
    """Parses the entries only; the action checks names, addresses and networks."""

    name = forms.CharField(label=_("Name"), max_length=30, help_text=_("e.g. office"))
    entries = forms.CharField(label=_("Addresses and networks"), widget=forms.Textarea(attrs={"rows": 4}),
                              help_text=_("One per line or separated by commas, e.g. 203.0.113.0/24"))
    description = forms.CharField(label=_("Description"), max_length=200, required=False)

    def clean_entries(self):
        text = self.cleaned_data["entries"].replace(",", "\n")
        return [line.strip() for line in text.splitlines() if line.strip()]


class PtrForm(forms.Form):
    """Validated again by the action (ownership, forward lookup); the form checks the shape."""

    address = forms.GenericIPAddressField(label=_("Address"))
    name = forms.CharField(label=_("Host name"), max_length=253, help_text=_("e.g. mail.example.com"))
