from decimal import Decimal

from django import template
from django.utils import formats

register = template.Library()


@register.filter
def euro(value):
    """'19,90 €'; prices with more places keep them ('0,0450 €')."""
    if value is None or value == "":
        return ""
    value = Decimal(value)
    places = max(2, -value.normalize().as_tuple().exponent)
    return f"{formats.number_format(value, min(places, 4), use_l10n=True, force_grouping=True)} €"


@register.filter
def qty(value):
    value = Decimal(value).normalize()
    places = max(0, -value.as_tuple().exponent)
    return formats.number_format(value, places, use_l10n=True)
