"""The issued invoice as documents: a PDF/A-3 with its ZUGFeRD (Factur-X EN 16931) XML inside.

The XML is built with drafthorse, which validates it against the official Factur-X EN 16931 XSD
while serialising; WeasyPrint renders the page as PDF/A-3b and drafthorse embeds the XML with the
Factur-X metadata. Both are made once, from the invoice's frozen rows, and kept (GoBD).
"""

import logging

from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation

from .models import Invoice
from .pricing import parse_address

logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
GUIDELINE = "urn:cen.eu:en16931:2017"
SCHEMA = "FACTUR-X_EN16931"
TYPE_CODES = {Invoice.Kind.INVOICE: "380", Invoice.Kind.CREDIT_NOTE: "381"}
EXEMPTION = {"AE": ("VATEX-EU-AE", "Reverse charge")}


def _address(target, *, street, postcode, city, country, extra=""):
    target.line_one = street
    if extra:
        target.line_two = extra
    target.postcode = postcode
    target.city_name = city
    target.country_id = country


def _party(party, *, name, vat_id, address):
    party.name = name
    _address(party.address, **address)
    if vat_id:
        party.tax_registrations.add(_tax_registration(vat_id))


def _tax_registration(vat_id, scheme="VA"):
    from drafthorse.models.party import TaxRegistration

    registration = TaxRegistration()
    registration.id = (scheme, vat_id)
    return registration


def einvoice_xml(invoice):
    """The invoice's CII XML (bytes), validated against the Factur-X EN 16931 schema."""
    from drafthorse.models.accounting import ApplicableTradeTax
    from drafthorse.models.document import Document
    from drafthorse.models.note import IncludedNote
    from drafthorse.models.payment import PaymentMeans, PaymentTerms
    from drafthorse.models.tradelines import LineItem

    seller, currency = invoice.seller, "EUR"
    lines = list(invoice.lines.all())
    doc = Document()
    doc.context.guideline_parameter.id = GUIDELINE
    doc.header.id = invoice.number
    doc.header.type_code = TYPE_CODES[invoice.kind]
    doc.header.issue_date_time = invoice.issue_date
    for text in filter(None, [invoice.note, _legal_note(seller)]):
        note = IncludedNote()
        note.content = text
        doc.header.notes.add(note)

    agreement = doc.trade.agreement
    _party(agreement.seller, name=seller["name"], vat_id=seller.get("vat_id"), address={
        "street": seller["street"], "postcode": seller["postcode"], "city": seller["city"], "country": seller["country"]})
    if seller.get("tax_number"):
        agreement.seller.tax_registrations.add(_tax_registration(seller["tax_number"], "FC"))
    buyer = parse_address(invoice.buyer_address)
    _party(agreement.buyer, name=invoice.buyer_name, vat_id=invoice.buyer_vat_id, address={
        "street": buyer.street, "postcode": buyer.postcode, "city": buyer.city, "country": buyer.country})

    doc.trade.delivery.event.occurrence = invoice.period_end
    settlement = doc.trade.settlement
    settlement.currency_code = currency
    settlement.payment_reference = invoice.number
    settlement.period.start = invoice.period_start
    settlement.period.end = invoice.period_end
    if invoice.kind == Invoice.Kind.INVOICE and seller.get("iban"):
        means = PaymentMeans()
        means.type_code = "58"  # SEPA credit transfer
        means.payee_account.iban = seller["iban"].replace(" ", "")
        means.payee_account.account_name = seller["name"]
        if seller.get("bic"):
            means.payee_institution.bic = seller["bic"]
        settlement.payment_means.add(means)
    if invoice.corrects_id:
        settlement.invoice_referenced_document.issuer_assigned_id = invoice.corrects.number
        settlement.invoice_referenced_document.issue_date_time = invoice.corrects.issue_date

    for line in lines:
        item = LineItem()
        item.document.line_id = str(line.position)
        item.product.name = line.description
        if line.detail:
            item.product.description = line.detail
        item.agreement.net.amount = line.unit_price
        item.delivery.billed_quantity = (line.quantity, line.unit)
        item.settlement.trade_tax.type_code = "VAT"
        item.settlement.trade_tax.category_code = line.vat_category
        item.settlement.trade_tax.rate_applicable_percent = line.vat_rate
        item.settlement.monetary_summation.total_amount = line.net
        doc.trade.items.add(item)

    for category, rate, net, vat in invoice.vat_breakdown():
        tax = ApplicableTradeTax()
        tax.calculated_amount = vat
        tax.basis_amount = net
        tax.type_code = "VAT"
        tax.category_code = category
        tax.rate_applicable_percent = rate
        if category in EXEMPTION:
            tax.exemption_reason_code, tax.exemption_reason = EXEMPTION[category]
        settlement.trade_tax.add(tax)

    if invoice.due_date and invoice.kind == Invoice.Kind.INVOICE:
        terms = PaymentTerms()
        terms.description = f"Zahlbar bis {invoice.due_date:%d.%m.%Y} ohne Abzug."
        terms.due = invoice.due_date
        settlement.terms.add(terms)

    total = settlement.monetary_summation
    total.line_total = invoice.net
    total.charge_total = 0
    total.allowance_total = 0
    total.tax_basis_total = invoice.net
    total.tax_total = (invoice.vat, currency)
    total.grand_total = invoice.gross
    total.due_amount = invoice.gross if invoice.kind == Invoice.Kind.INVOICE else 0
    return doc.serialize(schema=SCHEMA)


def _legal_note(seller):
    parts = [seller.get("name", ""), seller.get("register_court", ""), seller.get("register_number", "")]
    directors = seller.get("managing_directors")
    text = ", ".join(p for p in parts if p)
    return f"{text}. Geschäftsführung: {directors}" if directors else text


def invoice_html(invoice, *, screen=False):
    with translation.override(invoice.language):
        return render_to_string("billing/invoice_print.html", {
            "invoice": invoice, "lines": list(invoice.lines.all()), "breakdown": invoice.vat_breakdown(),
            "company": invoice.seller, "buyer_lines": [ln for ln in invoice.buyer_address.splitlines() if ln.strip()],
            "screen": screen,
        })


def render_pdf(invoice):
    """The PDF/A-3b with the XML embedded (Factur-X EN 16931): bytes."""
    from drafthorse.pdf import attach_xml
    from weasyprint import HTML

    xml = einvoice_xml(invoice)
    pdf = HTML(string=invoice_html(invoice)).write_pdf(pdf_variant="pdf/a-3b")
    return attach_xml(pdf, xml, level="EN 16931", lang=invoice.language), xml


def ensure_documents(invoice_id):
    """Render an issued invoice's documents once; a second call (or a concurrent one) keeps the first."""
    invoice = Invoice.objects.select_related("corrects").filter(pk=invoice_id).exclude(status=Invoice.Status.DRAFT).first()
    if invoice is None:
        return None
    if invoice.pdf is not None:
        return invoice
    pdf, xml = render_pdf(invoice)
    with transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk, pdf__isnull=True).update(pdf=pdf, xml=xml)
    return Invoice.objects.get(pk=invoice.pk)
