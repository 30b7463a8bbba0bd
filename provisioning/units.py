"""Sizes as customers read them: GB (and MB below one), the local decimal separator.

Here, not in the templates' filters alone, because the actions' messages (a quota, a disk that
cannot shrink) name sizes too, and provisioning may not import the portal (DESIGN.md 2).
"""

from django.utils.formats import number_format

NBSP = "\u00a0"


def _amount(value):
    # One decimal where it carries information (1.5 GB), none where it would only be ".0".
    value = round(float(value), 1)
    return number_format(int(value) if value.is_integer() else value, decimal_pos=None if value.is_integer() else 1)


def memory(mib):
    """Memory given in MiB: "512 MB", "4 GB", "1,5 GB"."""
    if mib in (None, ""):
        return "–"
    mib = int(mib)
    if 0 < mib < 1024:
        return f"{number_format(mib)}{NBSP}MB"
    return f"{_amount(mib / 1024)}{NBSP}GB"


def disk(gib):
    """Disk given in GiB: "8 GB", "2 TB"."""
    if gib in (None, ""):
        return "–"
    gib = int(gib)
    if gib >= 1024 and gib % 1024 == 0:
        return f"{number_format(gib // 1024)}{NBSP}TB"
    return f"{number_format(gib)}{NBSP}GB"


def percent(share):
    """A share 0..1 as "28 %" (a decimal below 10 %: "2,5 %")."""
    if share in (None, ""):
        return "–"
    value = float(share) * 100
    return f"{number_format(round(value, 1) if value < 10 else round(value), decimal_pos=1 if value < 10 else 0)}{NBSP}%"
