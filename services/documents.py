"""The offer as a document: the HTML the print view shows and the PDF made from it.

One renderer for the print view, the PDF download and the copy an acceptance keeps, so what the
customer accepted is byte for byte what they were shown.
"""

import logging

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

from .summary import summarise

# WeasyPrint logs every layout step at INFO; the portal's log is for things that matter.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)


def offer_html(offer, *, extra=None):
    """The current revision in the offer's own language, whoever looks at it."""
    context = summarise(offer, list(offer.use_cases.select_related("plan", "image")), revision=offer.current_revision)
    context.update(extra or {})
    with translation.override(offer.language):
        return render_to_string("services/offer_print.html", context)


def pdf(html, *, base_url=None):
    """The PDF of `html`, or None where WeasyPrint's system libraries are missing."""
    try:
        from weasyprint import HTML  # heavy import, only needed here
    except OSError:  # Pango missing on this machine (scripts/system-deps.sh installs it)
        return None
    return HTML(string=html, base_url=base_url or settings.SITE_URL).write_pdf()
