"""The sales pages: offers for prospects, from the sample customer to an accepted contract."""

from csp.decorators import csp_update
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Subquery
from django.http import Http404, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from tenants.access import add_errors, sales_required

from . import actions, documents
from .forms import OfferForm, OnlineAcceptanceForm, PaperAcceptanceForm, UseCaseFormSet, use_cases_from
from .models import Offer, OfferAcceptance, OfferRevision, Order, SuggestionRule
from .summary import summarise


def _offer(public_id):
    return get_object_or_404(Offer.objects.select_related("tier", "cluster", "tenant"), public_id=public_id)


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
            add_errors(form, exc)
        else:
            messages.success(request, _("Saved as revision %(revision)s.") % {"revision": offer.revision})
            return redirect("services:offer_edit", public_id=offer.public_id)
        offer.refresh_from_db()
    context = summarise(offer, list(offer.use_cases.select_related("plan", "image")), revision=offer.current_revision)
    context.update(
        form=form, formset=formset,
        revisions=offer.revisions.select_related("created_by")[:10],
        orders=Order.objects.filter(offer=offer).order_by("id") if offer.state == Offer.State.ACCEPTED else [],
        acceptance=_kept(offer),
        customer_link=actions.offer_link_url(offer=offer, request=request) if offer.state == Offer.State.SENT else "",
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


def _pdf_response(pdf, filename):
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _kept(offer):
    """The document an acceptance kept, or None while the offer is open."""
    return OfferAcceptance.objects.filter(offer=offer).select_related("revision").first()


# The print view shares its self-contained <style> with the PDF (WeasyPrint reads the same HTML).
@csp_update({"style-src": ["'unsafe-inline'"]})
@sales_required
def offer_print(request, public_id):
    offer = _offer(public_id)
    kept = _kept(offer)
    return HttpResponse(kept.html if kept else documents.offer_html(offer))


def _offer_pdf(request, offer):
    """The accepted document's kept PDF, or the current revision's made now; None without WeasyPrint."""
    kept = _kept(offer)
    pdf = kept.pdf if kept and kept.pdf else documents.pdf(kept.html if kept else documents.offer_html(offer),
                                                           base_url=request.build_absolute_uri("/"))
    if pdf is None:
        return None
    return _pdf_response(bytes(pdf), f"{offer.number}-r{kept.revision.number if kept else offer.revision}.pdf")


@sales_required
def offer_pdf(request, public_id):
    offer = _offer(public_id)
    response = _offer_pdf(request, offer)
    if response is None:
        messages.error(request, _("PDFs cannot be made on this server right now; please use the print view."))
        return redirect("services:offer_edit", public_id=offer.public_id)
    return response


@sales_required
def offer_accept(request, public_id):
    """Staff record a paper acceptance: it creates a tenant and orders servers, so it asks first."""
    offer = _offer(public_id)
    form = PaperAcceptanceForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.offer_accept(offer=offer, user=request.user, request=request, **form.cleaned_data)
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, _("Offer accepted: the customer's tenant, contract and orders are set up."))
            return redirect("services:offer_edit", public_id=offer.public_id)
    context = summarise(offer, list(offer.use_cases.select_related("plan", "image")), revision=offer.current_revision)
    context["form"] = form
    return render(request, "services/offer_accept.html", context)


def _public_context(token):
    try:
        offer, number = actions.offer_from_link(token=token)
    except ValidationError as exc:
        raise Http404(" ".join(exc.messages)) from None
    current = number == offer.revision and offer.state != Offer.State.DRAFT
    return offer, current


# Like the print view: the document carries its own <style> (the same HTML becomes the PDF).
@csp_update({"style-src": ["'unsafe-inline'"]})
@require_http_methods(["GET", "POST"])
def offer_public(request, token):
    """The customer's page behind the mailed link: the offer itself, and accepting it with obligation to pay."""
    offer, current = _public_context(token)
    kept = _kept(offer)
    form = OnlineAcceptanceForm(request.POST if request.method == "POST" else None)
    with translation.override(offer.language):  # the customer reads the offer's language throughout
        if request.method == "POST" and current and kept is None and form.is_valid():
            try:
                actions.offer_accept_online(token=token, request=request, **form.cleaned_data)
            except ValidationError as exc:
                add_errors(form, exc)
            else:
                return redirect("services:offer_public", token=token)
        if kept is not None or not current:
            return render(request, "services/offer_public_closed.html",
                          {"offer": offer, "acceptance": kept, "current": current, "token": token,
                           "company": settings.COMPANY})
        html = documents.offer_html(offer, extra={"accept_form": form, "token": token, "csrf_token": get_token(request)})
    return HttpResponse(html)


def offer_public_pdf(request, token):
    offer, current = _public_context(token)
    if not current and _kept(offer) is None:
        raise Http404
    response = _offer_pdf(request, offer)
    if response is None:
        raise Http404
    return response


TRANSITIONS = {
    "send": (actions.offer_send, gettext_lazy("Offer sent: the customer gets an e-mail with their link.")),
    "decline": (actions.offer_decline, gettext_lazy("Offer marked as declined.")),
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
