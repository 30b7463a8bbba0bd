from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from . import actions
from .forms import PreferencesForm
from .models import MailSettings
from .selectors import preferences_for


@login_required
def preferences(request):
    rows = preferences_for(request.user)
    saved = MailSettings.objects.filter(user=request.user).values_list("language", flat=True).first()
    form = PreferencesForm(request.POST or None, rows=rows, initial={"language": saved or get_language()})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            actions.preferences_save(user=request.user, choices={k.key: data.get(k.key) for k, _on, _l in rows},
                                     language=data["language"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Your notification settings are saved."))
            return redirect("notifications:preferences")
    return render(request, "notifications/preferences.html", {"form": form, "has_kinds": bool(rows)})
