"""Suggestions for where a use case goes, from the staff-editable SuggestionRule rows, and the warnings.

The first active rule (by position) with a keyword in the use case's name or current solution
wins. A rule asks for a minimum size; the cheapest active plan of the right kind that meets it
is suggested, so prices follow the catalogue without the rules naming plans.
"""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from provisioning.models import Image

from .models import GUEST_KIND, Plan, SuggestionRule, Target


def match(name, current_solution="", rules=None):
    text = f"{name} {current_solution}".lower()
    rules = SuggestionRule.objects.filter(active=True) if rules is None else rules
    for rule in rules:
        if any(keyword in text for keyword in rule.keyword_list()):
            return rule
    return None


def plan_for(kind, *, cores=1, memory_mb=0, disk_gb=0):
    return (
        Plan.objects.filter(active=True, kind=kind, cores__gte=cores, memory_mb__gte=memory_mb, disk_gb__gte=disk_gb)
        .order_by("price_monthly", "cores")
        .first()
    )


def image_for(kind, os_family, cluster):
    """The cluster's public image of that OS family (the newest by name), or None for the default."""
    if not os_family or cluster is None:
        return None
    images = Image.objects.filter(cluster=cluster, tenant__isnull=True, active=True, approved=True,
                                  status=Image.Status.READY, kind=kind, os_family=os_family)
    return images.order_by("-name").first()


def suggest(name, current_solution="", rules=None, *, cluster=None):
    """A dict of UseCase fields (target, hostname, plan, image, licences, note) or {} when no rule applies."""
    rule = match(name, current_solution, rules)
    if rule is None:
        return {}
    suggestion = {"target": rule.target, "hostname": rule.hostname, "plan": None, "note": rule.explanation,
                  "licences": sorted(lic.code for lic in rule.licences.all() if lic.active)}
    if rule.target in GUEST_KIND:
        kind = GUEST_KIND[rule.target]
        suggestion["plan"] = plan_for(kind, cores=rule.min_cores, memory_mb=rule.min_memory_mb, disk_gb=rule.min_disk_gb)
        suggestion["image"] = image_for(kind, rule.os_family, cluster)
    return suggestion


# The same cautions as the customer reads them on the offer: what JIKU promises, not what staff must do.
FOR_CUSTOMER = {
    SuggestionRule.Warning.DB_MIGRATION: gettext_lazy("We migrate the database (e.g. MS SQL to MySQL) only together with the "
                                           "software vendor's support."),
    SuggestionRule.Warning.TELEPHONY: gettext_lazy("We check the telephony integration (TAPI) together with your provider."),
}


def warnings(use_cases, rules=None, *, for_customer=False):
    """The concept's cautions (4.8.4) that apply to this offer, each once, most specific first.

    Staff read them as instructions on the sales pages; the printed offer says them to the customer.
    """
    rules = list(SuggestionRule.objects.filter(active=True)) if rules is None else rules
    found = []
    for use_case in use_cases:
        rule = match(use_case.name, use_case.current_solution, rules)
        if rule is not None and rule.warning and use_case.target != Target.DROP:
            label = FOR_CUSTOMER[rule.warning] if for_customer else SuggestionRule.Warning(rule.warning).label
            found.append(f"{use_case.name}: {label}")
    if any(u.target in GUEST_KIND for u in use_cases):
        if for_customer:
            found.append(_("Your current infrastructure keeps running in parallel until you have decided."))
            found.append(_("Before anything is migrated, we agree a proof of concept with you."))
        else:
            found.append(_("Keep the old infrastructure running in parallel until the customer has decided."))
            found.append(_("Agree a proof of concept with the customer before anything is migrated."))
    return list(dict.fromkeys(str(w) for w in found))
