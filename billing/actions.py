"""Every write in billing: keyword-only actions that check the rules, write and audit.

Staff actions need the billing permission (`billing.issue_invoice`); `user=None` is the system
(the monthly run, dunning). Bad input raises ValidationError and changes nothing.
"""

import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from notifications.actions import event_record
from provisioning import actions as provisioning
from services.pricing import cents
from tenants.audit import audit_record
from tenants.models import Tenant

from .metering import month_bounds, usage
from .models import BillingRun, Invoice, InvoiceLine, NumberSeries, Payment, Rate, Reminder
from .pricing import Rates, parse_address, totals, vat_treatment

FINAL_REMINDER_DAYS = 7  # the last reminder's deadline; past it the tenant is suspended


def require_billing(user):
    if user is not None and not (user.is_active and user.has_perm("billing.issue_invoice")):
        raise PermissionDenied


def _terms(tenant):
    contract = tenant.contracts.filter(ended_at__isnull=True).first() or tenant.contracts.order_by("-started_at").first()
    terms = ((contract.fees or {}).get("terms") if contract else None) or {}
    language = contract.offer.language if contract and contract.offer_id else settings.LANGUAGE_CODE
    return (int(terms.get("payment_days", settings.BILLING_PAYMENT_DAYS)),
            list(terms.get("reminder_days", settings.BILLING_REMINDER_DAYS)), language)


def buyer_problems(tenant):
    """Why an invoice for `tenant` cannot be issued now, in words for staff; empty when it can."""
    problems = []
    address = parse_address(tenant.billing_address)
    if not tenant.billing_address.strip():
        problems.append(_("%(tenant)s has no billing address. Add it to the tenant's billing data, then issue the invoice.")
                        % {"tenant": tenant.name})
    elif address is None:
        problems.append(_("The billing address of %(tenant)s has no line with postcode and city (e.g. \"10115 Berlin\"). "
                          "Correct it in the tenant's billing data, then issue the invoice.") % {"tenant": tenant.name})
    elif vat_treatment(country=address.country, vat_id=tenant.vat_id) is None:
        problems.append(_("%(tenant)s is outside Germany without a matching EU VAT ID; the portal cannot decide the VAT. "
                          "Add the VAT ID or invoice this customer by hand.") % {"tenant": tenant.name})
    return problems


def _treatment(tenant):
    address = parse_address(tenant.billing_address)
    treatment = vat_treatment(country=address.country, vat_id=tenant.vat_id) if address else None
    return treatment or vat_treatment(country="DE", vat_id="")


def _lines_from(charges, treatment):
    return [
        InvoiceLine(position=i, code=c.code, description=c.description[:300], detail=c.detail[:300],
                    server_public_id=c.server_public_id, started_at=c.started_at, ended_at=c.ended_at,
                    quantity=c.quantity, unit=c.unit, unit_price=c.unit_price, net=c.net,
                    vat_rate=treatment.rate, vat_category=treatment.category)
        for i, c in enumerate(charges, start=1)
    ]


def _set_totals(invoice, lines):
    invoice.net, invoice.vat, invoice.gross = totals(lines)


def invoice_draft(*, tenant, year, month, rates=None, now=None):
    """The month's draft invoice for `tenant`, made once: a second call (or a second run) returns it.

    None when nothing was used. Tenants are locked one at a time, so concurrent runs queue per
    tenant, and the unique constraint catches whatever would slip past.
    """
    start, end = month_bounds(year, month)
    if end > (now or timezone.now()):
        raise ValidationError(_("%(month)s is not over yet; it is billed from its last day on.") % {"month": f"{month:02d}/{year}"})
    try:
        with transaction.atomic():
            tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
            existing = Invoice.objects.filter(tenant=tenant, kind=Invoice.Kind.INVOICE, period_start=start.date()).first()
            if existing is not None:
                return existing
            payment_days, reminder_days, language = _terms(tenant)
            with translation.override(language):
                charges = usage(tenant, start, end, rates=rates).charges
            if not charges:
                return None
            treatment = _treatment(tenant)
            invoice = Invoice(
                tenant=tenant, period_start=start.date(), period_end=(end - datetime.timedelta(days=1)).date(),
                language=language, buyer_name=tenant.name, buyer_address=tenant.billing_address, buyer_vat_id=tenant.vat_id,
                payment_days=payment_days, reminder_days=reminder_days, note=treatment.note,
            )
            lines = _lines_from(charges, treatment)
            _set_totals(invoice, lines)
            invoice.save()
            for line in lines:
                line.invoice = invoice
            InvoiceLine.objects.bulk_create(lines)
            audit_record(action="invoice.drafted", tenant=tenant, obj=invoice,
                         details={"period": f"{year}-{month:02d}", "net": str(invoice.net)})
            return invoice
    except IntegrityError:
        return Invoice.objects.get(tenant=tenant, kind=Invoice.Kind.INVOICE, period_start=start.date())


def billable_tenants():
    return Tenant.objects.filter(Q(orders__isnull=False) | Q(contracts__isnull=False)).distinct().order_by("pk")


def billing_run(*, year, month, issue=None, now=None):
    """Draft every tenant's invoice for the month; idempotent and resumable (it skips what exists).

    With `issue` (default: settings.BILLING_AUTO_ISSUE) each draft that can be issued is issued
    right after it is made, tenant by tenant, so a run killed half-way leaves whole invoices with
    consecutive numbers behind, and the next run goes on from there.
    """
    issue = settings.BILLING_AUTO_ISSUE if issue is None else issue
    period = datetime.date(year, month, 1)
    run, _created = BillingRun.objects.get_or_create(period=period)
    rates = Rates()
    for tenant in billable_tenants().iterator():
        invoice = invoice_draft(tenant=tenant, year=year, month=month, rates=rates, now=now)
        if issue and invoice is not None and invoice.status == Invoice.Status.DRAFT and not buyer_problems(tenant):
            try:
                invoice_issue(invoice=invoice, user=None)
            except ValidationError:
                pass  # issued meanwhile by a concurrent run
    month_invoices = Invoice.objects.filter(kind=Invoice.Kind.INVOICE, period_start=period)
    problems = []
    for invoice in month_invoices.filter(status=Invoice.Status.DRAFT).select_related("tenant").order_by("pk"):
        blockers = buyer_problems(invoice.tenant)
        if blockers:
            problems.append({"tenant": invoice.tenant.name, "invoice": str(invoice.public_id), "problems": blockers})
    run.drafted = month_invoices.count()
    run.issued = month_invoices.exclude(status=Invoice.Status.DRAFT).count()
    run.problems, run.finished_at = problems, timezone.now()
    run.save(update_fields=["drafted", "issued", "problems", "finished_at"])
    return run


def next_number(series, year):
    """The next number of a series; the counter row stays locked until the caller's transaction ends,
    so a rolled-back issue gives its number back and no number is ever skipped or given twice."""
    NumberSeries.objects.get_or_create(series=series, year=year)
    counter = NumberSeries.objects.select_for_update().get(series=series, year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return f"{series}-{year}-{counter.last:05d}"


def _issue(invoice, user, request):
    """Inside the caller's transaction: number, dates, the seller's and buyer's data, frozen."""
    tenant = invoice.tenant
    today = timezone.localdate()
    invoice.number = next_number(Invoice.SERIES[invoice.kind], today.year)
    invoice.issue_date, invoice.due_date = today, today + datetime.timedelta(days=invoice.payment_days)
    invoice.buyer_name, invoice.buyer_address, invoice.buyer_vat_id = tenant.name, tenant.billing_address, tenant.vat_id
    invoice.seller = dict(settings.COMPANY)
    invoice.status, invoice.issued_at, invoice.issued_by = Invoice.Status.ISSUED, timezone.now(), user
    invoice.save()
    issued = "invoice.issued" if invoice.kind == Invoice.Kind.INVOICE else "credit_note.issued"
    audit_record(action=issued, tenant=tenant, request=request, actor=user, obj=invoice,
                 details={"number": invoice.number, "gross": str(invoice.gross)})
    event_record(tenant=tenant, kind="invoice_issued", subject_object=invoice, payload={
        "number": invoice.number, "gross": str(invoice.gross), "due_date": invoice.due_date.isoformat(),
        "credit_note": invoice.kind != Invoice.Kind.INVOICE, "path": reverse("billing:billing"),
    })
    from .tasks import render_documents

    transaction.on_commit(lambda: render_documents.delay(invoice.pk))
    return invoice


def invoice_issue(*, invoice, user=None, request=None):
    require_billing(user)
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=invoice.pk)
        if invoice.status != Invoice.Status.DRAFT:
            raise ValidationError(_("This invoice was issued already; correct it with a credit note."))
        problems = buyer_problems(invoice.tenant)
        if problems:
            raise ValidationError(problems)
        # The VAT follows the customer's data as it is now, which the issued invoice then keeps.
        treatment = _treatment(invoice.tenant)
        lines = list(invoice.lines.all())
        changed = [line for line in lines if (line.vat_category, line.vat_rate) != (treatment.category, treatment.rate)]
        for line in changed:
            line.vat_category, line.vat_rate = treatment.category, treatment.rate
        InvoiceLine.objects.bulk_update(changed, ["vat_category", "vat_rate"])
        invoice.note = treatment.note
        _set_totals(invoice, lines)
        return _issue(invoice, user, request)


def invoice_discard(*, invoice, user=None, request=None):
    """Throw a draft away (the next run, or "Draft again", makes it anew from the usage)."""
    require_billing(user)
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if invoice.status != Invoice.Status.DRAFT:
            raise ValidationError(_("Only a draft can be discarded; correct an issued invoice with a credit note."))
        audit_record(action="invoice.discarded", tenant=invoice.tenant, request=request, actor=user, obj=invoice)
        invoice.delete()


def credit_note_create(*, invoice, reason, amount=None, user=None, request=None):
    """Correct an issued invoice: in full (every line credited) or by a net `amount`; issued at once."""
    require_billing(user)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the invoice is corrected; the credit note prints it.")})
    with transaction.atomic():
        original = Invoice.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=invoice.pk)
        if original.kind != Invoice.Kind.INVOICE or original.status not in (Invoice.Status.ISSUED, Invoice.Status.PAID):
            raise ValidationError(_("Only an issued invoice that is not credited yet can be corrected."))
        credited = original.corrections.aggregate(total=Sum("net"))["total"] or Decimal("0")
        lines_src = list(original.lines.all())
        if amount is None:
            if credited:
                raise ValidationError({"amount": _("Part of this invoice was credited already; credit the rest as an amount.")})
            lines = [InvoiceLine(position=ln.position, code=ln.code, description=ln.description, detail=ln.detail,
                                 server_public_id=ln.server_public_id, started_at=ln.started_at, ended_at=ln.ended_at,
                                 quantity=ln.quantity, unit=ln.unit, unit_price=ln.unit_price, net=ln.net,
                                 vat_rate=ln.vat_rate, vat_category=ln.vat_category) for ln in lines_src]
        else:
            amount = cents(Decimal(amount))
            if amount <= 0 or amount > original.net - credited:
                raise ValidationError({"amount": _("Enter a net amount above 0 and at most the %(rest)s € not credited yet.")
                                       % {"rest": original.net - credited}})
            first = lines_src[0]
            lines = [InvoiceLine(position=1, code=InvoiceLine.Code.CORRECTION, description=reason[:300], quantity=Decimal("1"),
                                 unit="C62", unit_price=amount, net=amount, vat_rate=first.vat_rate, vat_category=first.vat_category)]
        note = _("Correction of invoice %(number)s of %(date)s: %(reason)s") % {
            "number": original.number, "date": original.issue_date.strftime("%d.%m.%Y"), "reason": reason}
        credit = Invoice(
            tenant=original.tenant, kind=Invoice.Kind.CREDIT_NOTE, corrects=original, period_start=original.period_start,
            period_end=original.period_end, language=original.language, payment_days=0,
            note="\n".join(n for n in (note, original.note) if n),
        )
        _set_totals(credit, lines)
        credit.save()
        for line in lines:
            line.invoice = credit
        InvoiceLine.objects.bulk_create(lines)
        _issue(credit, user, request)
        if credited + credit.net >= original.net:
            original.transition(Invoice.Status.CREDITED)
            _lift_suspension(original, user, request)
    return credit


def invoice_mark_paid(*, invoice, paid_on=None, amount=None, reference="", source=Payment.Source.MANUAL, user=None,
                      request=None):
    """Record a payment; once the invoice (less its credit notes) is covered it is paid, and a
    suspension over it is lifted."""
    require_billing(user)
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=invoice.pk)
        if invoice.kind != Invoice.Kind.INVOICE or invoice.status != Invoice.Status.ISSUED:
            raise ValidationError(_("Only an issued, unpaid invoice can be marked paid."))
        owed = outstanding(invoice)
        amount = owed if amount is None else cents(Decimal(amount))
        if amount <= 0:
            raise ValidationError({"amount": _("Enter an amount above 0.")})
        paid_on = paid_on or timezone.localdate()
        Payment.objects.create(invoice=invoice, amount=amount, paid_on=paid_on, reference=reference[:200], source=source,
                               created_by=user)
        audit_record(action="invoice.payment", tenant=invoice.tenant, request=request, actor=user, obj=invoice,
                     details={"amount": str(amount), "paid_on": paid_on.isoformat(), "source": source, "reference": reference[:200]})
        if amount >= owed:
            invoice.transition(Invoice.Status.PAID, paid_at=timezone.now())
            audit_record(action="invoice.paid", tenant=invoice.tenant, request=request, actor=user, obj=invoice)
            _lift_suspension(invoice, user, request)
    return invoice


def outstanding(invoice):
    """Gross still owed: the invoice less its credit notes and payments."""
    credited = invoice.corrections.aggregate(total=Sum("gross"))["total"] or Decimal("0")
    paid = invoice.payments.aggregate(total=Sum("amount"))["total"] or Decimal("0")
    return max(Decimal("0.00"), invoice.gross - credited - paid)


def _lift_suspension(invoice, user, request):
    if not invoice.suspended_tenant:
        return
    tenant = invoice.tenant
    others = Invoice.objects.for_tenant(tenant).filter(suspended_tenant=True, status=Invoice.Status.ISSUED).exclude(pk=invoice.pk)
    if others.exists() or tenant.status != Tenant.Status.SUSPENDED:
        return
    provisioning.tenant_unsuspend(tenant=tenant, user=user, request=request)
    audit_record(action="billing.unsuspended", tenant=tenant, request=request, actor=user, obj=invoice,
                 details={"number": invoice.number})


def dunning_run(*, today=None):
    """Send the reminder levels that are due and suspend tenants whose last reminder ran out.

    Each step is recorded once (a reminder per level is unique), so running it twice a day
    changes nothing the second time. Returns (reminders sent, tenants suspended).
    """
    today = today or timezone.localdate()
    sent = suspended = 0
    overdue = Invoice.objects.open().filter(due_date__lt=today).select_related("tenant").order_by("due_date", "pk")
    for invoice in overdue:
        with transaction.atomic():
            invoice = Invoice.objects.select_for_update(of=("self",)).select_related("tenant").get(pk=invoice.pk)
            if invoice.status != Invoice.Status.ISSUED:
                continue
            late = (today - invoice.due_date).days
            days = invoice.reminder_days or settings.BILLING_REMINDER_DAYS
            reached = sum(1 for d in days if late >= d)
            for level in range(invoice.dunning_level + 1, reached + 1):
                following = days[level] if level < len(days) else days[-1] + FINAL_REMINDER_DAYS
                pay_by = invoice.due_date + datetime.timedelta(days=following)
                Reminder.objects.create(invoice=invoice, level=level, pay_by=pay_by)
                audit_record(action="invoice.reminder", tenant=invoice.tenant, obj=invoice,
                             details={"number": invoice.number, "level": level, "pay_by": pay_by.isoformat(),
                                      "owed": str(outstanding(invoice))})
                event_record(tenant=invoice.tenant, kind="payment_reminder", subject_object=invoice, payload={
                    "number": invoice.number, "level": level, "pay_by": pay_by.isoformat(),
                    "owed": str(outstanding(invoice)), "path": reverse("billing:billing"),
                })
                invoice.dunning_level = level
                invoice.save(update_fields=["dunning_level"])
                sent += 1
            if (days and invoice.dunning_level == len(days) and not invoice.suspended_tenant
                    and late > days[-1] + FINAL_REMINDER_DAYS):
                invoice.suspended_tenant = True
                invoice.save(update_fields=["suspended_tenant"])
                if invoice.tenant.status == Tenant.Status.ACTIVE:
                    provisioning.tenant_suspend(tenant=invoice.tenant, user=None,
                                                reason=_("Invoice %(number)s unpaid after the last reminder") % {"number": invoice.number})
                    suspended += 1
                audit_record(action="billing.suspended", tenant=invoice.tenant, obj=invoice,
                             details={"number": invoice.number, "owed": str(outstanding(invoice))})
    return sent, suspended


def rate_set(*, code, amount, valid_from=None, user=None, request=None):
    """A new price for a metered extra from `valid_from` on; the earlier prices stay for their periods."""
    require_billing(user)
    if code not in Rate.Code.values:
        raise ValidationError({"code": _("Choose one of the metered extras.")})
    amount = Decimal(amount)
    if amount < 0:
        raise ValidationError({"amount": _("A price cannot be negative.")})
    valid_from = valid_from or timezone.now()
    try:
        with transaction.atomic():
            rate = Rate.objects.create(code=code, amount=amount, valid_from=valid_from, created_by=user)
    except IntegrityError as exc:
        raise ValidationError({"valid_from": _("There is a price for this moment already.")}) from exc
    audit_record(action="rate.set", request=request, actor=user, obj=rate,
                 details={"code": code, "amount": str(amount), "valid_from": valid_from.isoformat()})
    return rate
