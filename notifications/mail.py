"""One event as one e-mail: subject and plain text from .txt templates (never HTML-escaped), the
same text as HTML around it, all in the recipient's language."""

import datetime
import zoneinfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from .kinds import KINDS

ADDRESSED = {key for key, kind in KINDS.items() if kind.addressed}


def _reason(payload):
    """Reasons travel untranslated (msgid and parameters) and are translated for each reader."""
    if not payload.get("reason"):
        return ""
    text = gettext(payload["reason"])
    try:
        return text % payload["reason_params"] if payload.get("reason_params") else text
    except (KeyError, TypeError, ValueError):
        return text


def _times(payload):
    """Times travel as ISO text ("..._at", "..._by"); templates format them in the reader's language."""
    out = {}
    for key, value in payload.items():
        if key.endswith(("_at", "_by")) and isinstance(value, str):
            try:
                out[key] = datetime.datetime.fromisoformat(value)
            except ValueError:
                continue
    return out


def context_for(event, user=None):
    payload = event.payload or {}
    path = payload.get("path", "")
    return {
        "event": event,
        "payload": payload,
        "times": _times(payload),
        "tenant_name": event.tenant.name if event.tenant else "",
        "reason": _reason(payload),
        "url": settings.SITE_URL.rstrip("/") + path if path else "",
        "portal_name": settings.PORTAL_NAME,
        "recipient": user,
        # An invitee has no settings to point to.
        "preferences_url": "" if event.kind in ADDRESSED else settings.SITE_URL.rstrip("/") + reverse("notifications:preferences"),
    }


def render(event, *, language, user=None):
    """(subject, text, html) of the event's mail in `language`, times in the tenant's time zone."""
    zone = event.tenant.time_zone if event.tenant else settings.TIME_ZONE
    with translation.override(language), timezone.override(zoneinfo.ZoneInfo(zone)):
        context = context_for(event, user)
        subject = render_to_string(f"notifications/email/{event.kind}_subject.txt", context)
        subject = " ".join(f"[{settings.PORTAL_NAME}] {subject}".split())
        body = render_to_string(f"notifications/email/{event.kind}.txt", context).strip()
        context = {**context, "subject": subject, "body": body}
        text = render_to_string("notifications/email/base.txt", context)
        html = render_to_string("notifications/email/base.html", context)
    return subject, text, html


def message_for(delivery):
    subject, text, html = render(delivery.event, language=delivery.language, user=delivery.user)
    message = EmailMultiAlternatives(
        subject, text, None, [delivery.address],
        # Out-of-office replies and mailing-list software leave automatic mails alone (RFC 3834).
        headers={"Auto-Submitted": "auto-generated", "X-Portal-Event": str(delivery.event.public_id)},
    )
    message.attach_alternative(html, "text/html")
    return message
