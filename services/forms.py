"""Input checks for the sales pages; the rules that need the database live in actions.py."""

import json
from decimal import Decimal

from django import forms
from django.core.validators import MaxValueValidator
from django.forms import inlineformset_factory
from django.utils.translation import gettext_lazy as _

from provisioning.models import Cluster, Image
from tenants.models import Duty, Party

from .models import Licence, Offer, Plan, ServiceTier, UseCase

MAX_FEE = Decimal("1000000")


class OfferForm(forms.ModelForm):
    challenges = forms.MultipleChoiceField(
        label=_("Challenges"), choices=Offer.Challenge.choices, widget=forms.CheckboxSelectMultiple, required=False
    )

    class Meta:
        model = Offer
        fields = [
            "company", "contact_name", "contact_email", "address", "employees", "language", "systems", "server_age_years",
            "challenges", "tier", "hosting", "cluster", "node_name", "headroom_percent", "setup_fee", "migration_fee",
            "poc_fee", "term_months", "valid_until",
        ]
        labels = {"tier": _("Customer involvement")}
        widgets = {"valid_until": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                   "address": forms.Textarea(attrs={"rows": 3}),
                   "systems": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tier"].queryset = ServiceTier.objects.filter(active=True)
        self.fields["cluster"].queryset = Cluster.objects.filter(active=True)
        for name in ("setup_fee", "migration_fee", "poc_fee"):
            self.fields[name].validators.append(MaxValueValidator(MAX_FEE))
        for name in ("employees", "headroom_percent", "server_age_years"):
            self.fields[name].widget.attrs["min"] = 0
        # An offer without duties of its own starts from its tier's split.
        tier = self.instance.tier if self.instance.tier_id else None
        current = self.instance.duties or (tier.default_duties() if tier else {})
        self.tier_defaults = {str(t.pk): t.default_duties() for t in self.fields["tier"].queryset.prefetch_related("duties")}
        for duty in Duty:
            self.fields[f"duty_{duty.value}"] = forms.ChoiceField(
                label=duty.label, choices=Party.choices, initial=current.get(duty.value, Party.CUSTOMER)
            )

    def tier_defaults_json(self):
        # Read by static/js/app.js: choosing a tier loads its own split of the duties.
        return json.dumps(self.tier_defaults)

    def duty_fields(self):
        return [self[f"duty_{duty.value}"] for duty in Duty]

    def duties(self):
        return {duty.value: self.cleaned_data[f"duty_{duty.value}"] for duty in Duty}

    def main_fields(self):
        return [self[name] for name in self.Meta.fields]


class UseCaseForm(forms.ModelForm):
    licences = forms.MultipleChoiceField(
        label=_("Licences per user"), required=False, widget=forms.CheckboxSelectMultiple,
        help_text=_("Windows Server itself is counted per core for every Windows server."),
    )

    class Meta:
        model = UseCase
        fields = ["name", "current_solution", "target", "plan", "image", "hostname", "note", "licences"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["licences"].choices = list(
            Licence.objects.filter(active=True, metric=Licence.Metric.PER_USER).values_list("code", "name"))
        self.fields["plan"].queryset = Plan.objects.filter(active=True)
        self.fields["image"].queryset = Image.objects.filter(tenant__isnull=True, active=True)
        self.fields["image"].empty_label = _("(default image)")

    def clean_hostname(self):
        return self.cleaned_data["hostname"].strip().lower()


UseCaseFormSet = inlineformset_factory(Offer, UseCase, form=UseCaseForm, extra=1, can_delete=True)


def use_cases_from(formset):
    """Unsaved UseCase objects from a valid formset, in order, without deleted or empty rows."""
    rows = []
    for form in formset.forms:
        data = form.cleaned_data
        if not data or data.get("DELETE"):
            continue
        rows.append(UseCase(**{f: data.get(f) for f in UseCaseForm.Meta.fields}))
    return rows


class PaperAcceptanceForm(forms.Form):
    """The action checks these (required, what is missing); the form only carries them."""

    name = forms.CharField(label=_("Signed by"), max_length=120, required=False)
    position = forms.CharField(label=_("Position"), max_length=120, required=False)
    reason = forms.CharField(
        label=_("How was it accepted?"), max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("For example: signed offer received by post on 3 December. Kept with the acceptance."),
    )


class OnlineAcceptanceForm(forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=120, required=False)
    position = forms.CharField(label=_("Your position in the company"), max_length=120, required=False)
    confirmed = forms.BooleanField(
        label=_("I accept this offer on behalf of the company with obligation to pay."), required=False
    )
