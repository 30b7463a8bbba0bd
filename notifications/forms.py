from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class PreferencesForm(forms.Form):
    """A checkbox per kind the user may hear of; an owner's security mails show checked and locked."""

    language = forms.ChoiceField(label=_("Language of the e-mails"), choices=settings.LANGUAGES)

    def __init__(self, *args, rows=(), **kwargs):
        super().__init__(*args, **kwargs)
        for kind, on, locked in rows:
            self.fields[kind.key] = forms.BooleanField(
                label=kind.label, required=False, initial=on, disabled=locked,
                help_text=_("Owners always receive security e-mails.") if locked else "",
            )


class WebhookForm(forms.Form):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https",
                         help_text=_("The portal POSTs every event of this tenant there as JSON."))
