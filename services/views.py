"""The sales pages: offers for prospects, from the sample customer to an accepted contract."""

import logging

from csp.decorators import csp_update
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Subquery
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from tenants.access import sales_required

from . import actions
from .forms import OfferForm, UseCaseFormSet, use_cases_from
from .models import Offer, OfferRevision, Order, SuggestionRule
from .summary import summarise

# WeasyPrint logs every layout step at INFO; the portal's log is for things that matter.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)




def _offer(public_id):
    return get_object_or_404(Offer.objects.select_related("tier", "cluster", "tenant"), public_id=public_id)


def _add_errors(form, exc):
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def _bound(request, offer):
    form = OfferForm(request.POST or None, instance=offer)
    formset = UseCaseFormSet(request.POST or None, instance=offer, prefix="uc")
    return form, formset


@sales_required
def offer_list(request):
    monthly = OfferRevision.objects.filter(offer=OuterRef("pk"), number=OuterRef("revision")).values("monthly_net")
    offers = Offer.objects.select_related("tier").annotate(monthly_net=Subquery(monthly[:1]))
    rules = SuggestionRule.objects.filter(active=True)
    return render(request, "services/offer_list.html", {"offers": offers, "rules": rules})


@sales_required
@require_POST
def offer_create_sample(request):
    try:
        offer = actions.offer_create_sample(user=request.user, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("services:offer_list")
    messages.success(request, _("Offer %(number)s for the sample customer created.") % {"number": offer.number})
    return redirect("services:offer_edit", public_id=offer.public_id)


@sales_required
def offer_edit(request, public_id):
    offer = _offer(public_id)
    form, formset = _bound(request, offer)
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        fields = {name: form.cleaned_data[name] for name in OfferForm.Meta.fields}
        fields["duties"] = form.duties()
        try:
            offer = actions.offer_update(
                offer=offer, user=request.user, request=request, fields=fields, use_cases=use_cases_from(formset)
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("Saved as revision %(revision)s.") % {"revision": offer.revision})
            return redirect("services:offer_edit", public_id=offer.public_id)
        offer.refresh_from_db()
    context = summarise(offer, list(offer.use_cases.select_related("plan", "image")), revision=offer.current_revision)
    context.update(
        form=form, formset=formset,
        revisions=offer.revisions.select_related("created_by")[:10],
        orders=Order.objects.filter(offer=offer).order_by("id") if offer.state == Offer.State.ACCEPTED else [],
    )
    return render(request, "services/offer_edit.html", context)


@sales_required
@require_POST
def offer_preview(request, public_id):
    """The live price while editing: the posted, unsaved form computed like the saved offer."""
    offer = _offer(public_id)
    form, formset = _bound(request, offer)
    if not (form.is_valid() and formset.is_valid()):
        return render(request, "services/_price.html", {"form": form, "formset": formset, "invalid": True})
    draft = form.save(commit=False)
    draft.duties = form.duties()
    use_cases = use_cases_from(formset)
    return render(request, "services/_price.html", summarise(draft, use_cases))


def _print_context(offer):
    return summarise(offer, list(offer.use_cases.select_related("plan", "image")), revision=offer.current_revision)


# The print view shares its self-contained <style> with the PDF (WeasyPrint reads the same HTML).
@csp_update({"style-src": ["'unsafe-inline'"]})
@sales_required
def offer_print(request, public_id):
    offer = _offer(public_id)
    with translation.override(offer.language):
        return render(request, "services/offer_print.html", _print_context(offer))


@sales_required
def offer_pdf(request, public_id):
    offer = _offer(public_id)
    try:
        from weasyprint import HTML  # heavy import, only needed here
    except OSError:  # Pango missing on this machine (scripts/system-deps.sh installs it)
        messages.error(request, _("PDFs cannot be made on this server right now; please use the print view."))
        return redirect("services:offer_edit", public_id=offer.public_id)
    with translation.override(offer.language):
        html = render_to_string("services/offer_print.html", _print_context(offer), request=request)
    pdf = HTML(string=html, base_url=request.build_absolute_uri("/")).write_pdf()
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{offer.number}-r{offer.revision}.pdf"'
    return response


TRANSITIONS = {
    "send": (actions.offer_send, gettext_lazy("Offer marked as sent.")),
    "decline": (actions.offer_decline, gettext_lazy("Offer marked as declined.")),
    "accept": (actions.offer_accept, gettext_lazy("Offer accepted: the customer's tenant, contract and orders are set up.")),
}


@sales_required
@require_POST
def offer_transition(request, public_id, transition):
    if transition not in TRANSITIONS:
        raise Http404
    offer = _offer(public_id)
    action, done = TRANSITIONS[transition]
    try:
        action(offer=offer, user=request.user, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, done)
    return redirect("services:offer_edit", public_id=offer.public_id)
