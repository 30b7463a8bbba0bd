"""Who hears of an event: tenant members by role and preference, or staff by permission."""

from django.conf import settings
from django.contrib.auth import get_user_model

from .kinds import CUSTOMER, KINDS, OWNER, STAFF, kind_for, wanted
from .models import MailSettings, Preference, Webhook

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def recipients(event):
    """[(user, language)] for the event: never anyone outside its tenant (customer kinds)."""
    kind = kind_for(event.kind)
    if not kind.mail or kind.addressed:
        return []
    if kind.audience == CUSTOMER:
        if event.tenant is None:
            return []
        # The tenant's members through its relation; this app imports no tenants code (kinds.py).
        candidates = [(m.user, m.role) for m in event.tenant.memberships.select_related("user")
                      .filter(user__is_active=True).order_by("pk")]
    else:
        users = get_user_model().objects.with_perm(kind.permission, backend=MODEL_BACKEND).filter(is_staff=True)
        candidates = [(user, None) for user in users.order_by("pk")]
    ids = [user.pk for user, _role in candidates]
    choices = dict(Preference.objects.filter(user__in=ids, kind=kind.key).values_list("user", "email"))
    languages = dict(MailSettings.objects.filter(user__in=ids).values_list("user", "language"))
    return [
        (user, languages.get(user.pk, settings.LANGUAGE_CODE))
        for user, role in candidates
        if user.email and wanted(kind, role, choices.get(user.pk))
    ]


def addressees(event):
    """[(address, language)] of an addressed kind (an invitation): the address the event names, in
    the language its account chose if it has one, else in the language the event was recorded in."""
    address = (event.payload or {}).get("email", "")
    if not kind_for(event.kind).addressed or not address:
        return []
    chosen = MailSettings.objects.filter(user__email__iexact=address).values_list("language", flat=True).first()
    return [(address, chosen or event.payload.get("language") or settings.LANGUAGE_CODE)]


def webhooks_for(event):
    """The tenant's active webhooks hear its customer events; a test goes to the one it tests."""
    kind = kind_for(event.kind)
    if event.tenant_id is None or kind.audience != CUSTOMER or kind.addressed or not kind.webhook:
        return []
    hooks = Webhook.objects.filter(tenant=event.tenant_id, active=True)
    if event.kind == "webhook_test":
        hooks = hooks.filter(public_id=event.payload.get("webhook"))
    return list(hooks.order_by("pk"))


def preferences_for(user):
    """The kinds a user may choose on their page: [(kind, on, locked)]."""
    roles = set(user.memberships.values_list("role", flat=True))
    choices = dict(Preference.objects.filter(user=user).values_list("kind", "email"))
    rows = []
    for kind in KINDS.values():
        if not kind.mail or kind.addressed:
            continue
        if kind.audience == STAFF and not (user.is_staff and user.has_perm(kind.permission)):
            continue
        if kind.audience == CUSTOMER and not roles:
            continue
        locked = kind.security and OWNER in roles
        # The strongest role decides the default shown; the mail itself follows each tenant's role.
        default = any(wanted(kind, role, None) for role in roles) if kind.audience == CUSTOMER else True
        rows.append((kind, True if locked else choices.get(kind.key, default), locked))
    return rows
