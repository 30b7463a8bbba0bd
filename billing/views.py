"""The customer's billing page and invoice downloads; JIKU's billing pages under /staff/billing/.

Pages read the database only. Invoices are reached through the tenant-scoped lookup (another
tenant's invoice is a 404); staff pages answer 404 to anyone without the billing permission.
"""

import datetime
from decimal import Decimal
from functools import wraps

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from provisioning.forms import GBSizesMixin, MemoryField
from provisioning.models import Server
from tenants.access import get_for_tenant, redirect_to_login, tenant_required
from tenants.models import AuditEvent

from . import actions, documents
from .datev import datev_csv
from .metering import month_bounds, month_of, usage
from .models import BillingRun, Invoice, Rate
from .pricing import Rates, size_price
from .statements import statement_import


def _download(invoice, kind):
    if invoice.status == Invoice.Status.DRAFT or kind not in ("pdf", "xml"):
        raise Http404
    invoice = documents.ensure_documents(invoice.pk)
    if kind == "xml":
        response = HttpResponse(bytes(invoice.xml), content_type="application/xml")
        response["Content-Disposition"] = f'attachment; filename="{invoice.number}.xml"'
    else:
        response = HttpResponse(bytes(invoice.pdf), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
    return response


class PriceForm(GBSizesMixin, forms.Form):
    server = forms.ModelChoiceField(label=gettext_lazy("Server"), queryset=Server.objects.none(), empty_label=None)
    cores = forms.IntegerField(label=gettext_lazy("Cores"), min_value=1, max_value=64)
    memory_gb = MemoryField(label=gettext_lazy("Memory (GB)"), max_mb=262144)
    disk_gb = forms.IntegerField(label=gettext_lazy("Disk (GB)"), min_value=1, max_value=16384,
                                 help_text=gettext_lazy("1 GB = 1024 MiB, as Proxmox counts."))

    def __init__(self, *args, servers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["server"].queryset = servers


def current_costs(tenant, now=None):
    """This month so far and the forecast to its end (the servers and fees as they are now), per server."""
    now = now or timezone.now()
    start, end = month_bounds(*month_of(now))
    rates = Rates()
    so_far, forecast = usage(tenant, start, end, until=now, rates=rates), usage(tenant, start, end, rates=rates)
    rows = {}
    for label, result in (("so_far", so_far), ("forecast", forecast)):
        for charge in result.charges:
            # One row per server and kind of charge: a server's licence is its own row, not added to
            # the plan's under the plan's name (a 0 € plan in a package read as a 19.60 € server).
            key = (charge.server_public_id, charge.description)
            row = rows.setdefault(key, {"description": charge.description, "so_far": Decimal("0.00"),
                                        "forecast": Decimal("0.00"), "server": charge.server_public_id})
            row[label] += charge.net
    return {"start": start, "end": end, "now": now, "so_far": so_far.net, "forecast": forecast.net,
            "rows": list(rows.values()), "segments": forecast.segments, "rates": rates}


@tenant_required("audit")
def billing(request):
    tenant = request.tenant
    invoices = Invoice.objects.for_tenant(tenant).exclude(status=Invoice.Status.DRAFT).select_related("corrects")
    costs = current_costs(tenant)
    latest = {s.server.pk: s for s in costs["segments"]}  # the last stretch of each billed server: its size now
    servers = Server.objects.for_tenant(tenant).filter(pk__in=list(latest))
    preview, form = None, PriceForm(request.GET or None, servers=servers)
    if form.is_bound and form.is_valid():
        seg, data = latest[form.cleaned_data["server"].pk], form.cleaned_data
        rates, now = costs["rates"], timezone.now()
        before = size_price(base=seg.order.price_monthly, plan=seg.order.plan, rates=rates, moment=now, **seg.size)
        after = size_price(base=seg.order.price_monthly, plan=seg.order.plan, rates=rates, moment=now,
                           cores=data["cores"], memory_mb=data["memory_mb"], disk_gb=data["disk_gb"])
        preview = {"server": data["server"], "before": before, "after": after, "difference": after - before}
    rates = costs["rates"]
    now = timezone.now()
    extras = [(label, rates.at(code, now)) for code, label in Rate.Code.choices]
    backup_slots = [(s.server, s.order.plan.backup_slots) for s in latest.values()]
    template = "billing/_price.html" if request.headers.get("HX-Request") else "billing/billing.html"
    return render(request, template, {
        "invoices": invoices, "costs": costs, "form": form, "preview": preview, "extras": extras,
        "backup_rate": rates.at("backup", now), "backup_slots": backup_slots,
    })


@tenant_required("audit")
def invoice_download(request, public_id, kind):
    invoice = get_for_tenant(Invoice, request.tenant, public_id=public_id)
    return _download(invoice, kind)


# --- staff ---------------------------------------------------------------------------------------
def billing_staff(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request)
        if not (request.user.is_staff and request.user.has_perm("billing.issue_invoice")):
            raise Http404
        request.audit_via = AuditEvent.Via.ADMIN
        return view(request, *args, **kwargs)

    return wrapper


def _attempt(request, fn, success):
    try:
        result = fn()
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return None
    messages.success(request, success)
    return result


def _last_month(today=None):
    today = today or timezone.localdate()
    first = today.replace(day=1) - datetime.timedelta(days=1)
    return first.year, first.month


@billing_staff
def staff_billing(request):
    year, month = _last_month()
    drafts = Invoice.objects.filter(status=Invoice.Status.DRAFT).select_related("tenant").order_by("-period_start", "tenant__name")
    draft_rows = [(inv, actions.buyer_problems(inv.tenant)) for inv in drafts]
    open_invoices = Invoice.objects.open().select_related("tenant").order_by("due_date")
    months = sorted({(d.year, d.month) for d in Invoice.objects.exclude(status=Invoice.Status.DRAFT)
                     .values_list("issue_date", flat=True)}, reverse=True)[:12]
    return render(request, "billing/staff.html", {
        "runs": BillingRun.objects.all()[:12], "year": year, "month": month, "drafts": draft_rows,
        "open_invoices": open_invoices, "months": months,
        "recent": Invoice.objects.exclude(status=Invoice.Status.DRAFT).select_related("tenant").order_by("-issued_at")[:30],
    })


@billing_staff
@require_POST
def staff_run(request):
    year, month = _last_month()
    run = actions.billing_run(year=year, month=month, issue=False)
    messages.success(request, _("Billing for %(month)s: %(count)s invoices in all, %(problems)s need attention.")
                     % {"month": f"{month:02d}/{year}", "count": run.drafted, "problems": len(run.problems)})
    return redirect("billing:staff")


@billing_staff
@require_POST
def staff_issue_all(request):
    issued, skipped = 0, 0
    for invoice in Invoice.objects.filter(status=Invoice.Status.DRAFT).select_related("tenant").order_by("pk"):
        if actions.buyer_problems(invoice.tenant):
            skipped += 1
            continue
        actions.invoice_issue(invoice=invoice, user=request.user, request=request)
        issued += 1
    messages.success(request, _("%(issued)s invoices issued; %(skipped)s drafts wait for their customer's data.")
                     % {"issued": issued, "skipped": skipped})
    return redirect("billing:staff")


class CreditForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=200)
    amount = forms.DecimalField(label=gettext_lazy("Net amount (empty: the whole invoice)"), required=False,
                                max_digits=12, decimal_places=2, min_value=Decimal("0.01"))


class PaymentForm(forms.Form):
    paid_on = forms.DateField(label=gettext_lazy("Paid on"), initial=timezone.localdate)
    amount = forms.DecimalField(label=gettext_lazy("Amount (empty: all that is owed)"), required=False, max_digits=12,
                                decimal_places=2, min_value=Decimal("0.01"))
    reference = forms.CharField(label=gettext_lazy("Reference"), max_length=200, required=False)


class StatementForm(forms.Form):
    statement = forms.FileField(label=gettext_lazy("Bank statement (CSV)"))


@billing_staff
def staff_invoice(request, public_id):
    invoice = get_object_or_404(Invoice.objects.select_related("tenant", "corrects"), public_id=public_id)
    credit_form, payment_form = CreditForm(prefix="credit"), PaymentForm(prefix="pay")
    if request.method == "POST":
        step = request.POST.get("step")
        if step == "issue":
            _attempt(request, lambda: actions.invoice_issue(invoice=invoice, user=request.user, request=request),
                     _("Invoice issued."))
        elif step == "discard":
            if _attempt(request, lambda: actions.invoice_discard(invoice=invoice, user=request.user, request=request),
                        _("Draft discarded.")) is not None or not Invoice.objects.filter(pk=invoice.pk).exists():
                return redirect("billing:staff")
        elif step == "paid":
            payment_form = PaymentForm(request.POST, prefix="pay")
            if payment_form.is_valid():
                d = payment_form.cleaned_data
                _attempt(request, lambda: actions.invoice_mark_paid(
                    invoice=invoice, paid_on=d["paid_on"], amount=d["amount"], reference=d["reference"],
                    user=request.user, request=request), _("Payment recorded."))
        elif step == "credit":
            credit_form = CreditForm(request.POST, prefix="credit")
            if credit_form.is_valid():
                d = credit_form.cleaned_data
                credit = _attempt(request, lambda: actions.credit_note_create(
                    invoice=invoice, reason=d["reason"], amount=d["amount"], user=request.user, request=request),
                    _("Credit note issued."))
                if credit is not None:
                    return redirect("billing:staff_invoice", public_id=credit.public_id)
        if not (credit_form.errors or payment_form.errors):
            return redirect("billing:staff_invoice", public_id=invoice.public_id)
    return render(request, "billing/staff_invoice.html", {
        "invoice": invoice, "lines": invoice.lines.all(), "breakdown": invoice.vat_breakdown(),
        "problems": actions.buyer_problems(invoice.tenant) if invoice.status == Invoice.Status.DRAFT else [],
        "reminders": invoice.reminders.all(), "payments": invoice.payments.all(), "credits": invoice.corrections.all(),
        "outstanding": actions.outstanding(invoice) if invoice.status == Invoice.Status.ISSUED else None,
        "credit_form": credit_form, "payment_form": payment_form,
    })


@billing_staff
def staff_download(request, public_id, kind):
    return _download(get_object_or_404(Invoice, public_id=public_id), kind)


@billing_staff
def staff_datev(request, year, month):
    if not 1 <= month <= 12:
        raise Http404
    response = HttpResponse(datev_csv(year=year, month=month), content_type="text/csv; charset=windows-1252")
    response["Content-Disposition"] = f'attachment; filename="EXTF_Buchungsstapel_{year}-{month:02d}.csv"'
    return response


@billing_staff
def staff_statement(request):
    form = StatementForm(request.POST or None, request.FILES or None)
    result = None
    if request.method == "POST" and form.is_valid():
        try:
            result = statement_import(data=form.cleaned_data["statement"].read(), user=request.user, request=request)
        except ValidationError as exc:
            form.add_error("statement", exc)
    return render(request, "billing/staff_statement.html", {"form": form, "result": result})
