"""Everything an offer page, its live price and its PDF show, computed from one offer and its use cases."""

from django.conf import settings

from . import rules
from .contracts import effective_duties, matrix
from .models import Target
from .pricing import VAT_RATE, Quote, offer_licences, quote
from .sizing import MIN_VDS_CORES, MIN_VDS_DISK_GB, MIN_VDS_MEMORY_GB, size


def summarise(offer, use_cases, revision=None):
    """With a saved `revision`, the prices are the ones it kept; without, today's (the live preview)."""
    duties = effective_duties(offer.tier, offer.duties)
    sizing = size(use_cases=use_cases, headroom_percent=offer.headroom_percent, tier=offer.tier)
    kept = revision is not None and revision.quote
    today = quote(offer=offer, sizing=sizing, duties=duties)
    shown = Quote.from_data(revision.quote) if kept else today
    return {
        "offer": offer,
        "use_cases": use_cases,
        "duties": duties,
        "matrix": matrix(duties),
        "sizing": sizing,
        "minimum": {"cores": MIN_VDS_CORES, "memory_gb": MIN_VDS_MEMORY_GB, "disk_gb": MIN_VDS_DISK_GB},
        "quote": shown,
        "licences": offer_licences(sizing.guests),
        "prices_changed": (today.monthly_total, today.once_total) != (shown.monthly_total, shown.once_total),
        "vat_percent": int(VAT_RATE * 100),
        "warnings": rules.warnings(use_cases),
        "customer_notes": rules.warnings(use_cases, for_customer=True),
        "saas": [u for u in use_cases if u.target == Target.SAAS],
        "dropped": [u for u in use_cases if u.target == Target.DROP],
        "challenges": [offer.Challenge(c).label for c in offer.challenges if c in offer.Challenge.values],
        "company": settings.COMPANY,
        "revision": revision,
        "terms": {"notice_months": settings.OFFER_NOTICE_MONTHS, "payment_days": settings.BILLING_PAYMENT_DAYS},
    }
