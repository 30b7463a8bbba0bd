"""Input checks only; the rules that need the database live in actions.py."""

import re

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Role, Tenant, time_zones
from .sshkeys import parse_public_key

VAT_ID_RE = re.compile(r"^[A-Z]{2}[0-9A-Z]{2,13}$")


class TenantCreateForm(forms.Form):
    name = forms.CharField(
        label=_("Company or project name"), max_length=120,
        help_text=_("You can change it later. Your colleagues will see this name."),
    )

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Please enter a name."))
        return name


class TenantSettingsForm(forms.ModelForm):
    class Meta:
        model = Tenant
        fields = ["name", "billing_address", "vat_id", "require_mfa", "time_zone"]
        help_texts = {
            "vat_id": _("EU format: country code and number, e.g. DE123456789."),
            "time_zone": _("The portal's pages, mails and backup schedules tell times in it."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].widget = forms.Select(choices=[(z, z.replace("_", " ")) for z in time_zones()])

    def clean_vat_id(self):
        vat_id = re.sub(r"[\s.\-]", "", self.cleaned_data["vat_id"]).upper()
        if vat_id and not VAT_ID_RE.match(vat_id):
            raise forms.ValidationError(
                _("Enter a VAT ID as a two-letter country code followed by 2 to 13 letters or digits, e.g. DE123456789.")
            )
        return vat_id


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("E-mail"))
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.MEMBER)


class RoleForm(forms.Form):
    # Sits inline in a table row next to its button, so it takes only the width it needs.
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, widget=forms.Select(attrs={"class": "narrow"}))


class SSHKeyForm(forms.Form):
    public_key = forms.CharField(
        label=_("Public key"),
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "placeholder": "ssh-ed25519 AAAA… user@host"}),
        help_text=_("The contents of your .pub file, e.g. ~/.ssh/id_ed25519.pub."),
    )
    name = forms.CharField(
        label=_("Name"), max_length=100, required=False,
        help_text=_("Leave empty to use the key's comment."),
    )

    def clean_public_key(self):
        return parse_public_key(self.cleaned_data["public_key"]).openssh
