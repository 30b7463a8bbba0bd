"""Webhooks: JSON POSTed to a tenant's URL, signed with HMAC-SHA256 over the timestamp and body.

The header is `X-Portal-Signature: t=<unix time>,v1=<hex digest of "<t>.<body>">`; a receiver
recomputes the digest with its secret and refuses a timestamp older than the replay window
(`verify` does both). Production only posts to public addresses: a tenant must not make the
portal call into JIKU's own network (server-side request forgery).
"""

import hashlib
import hmac
import ipaddress
import json
import socket
import time
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .mail import context_for

SIGNATURE_HEADER = "X-Portal-Signature"
REPLAY_WINDOW_SECONDS = 300
TIMEOUT = (3, 5)  # connect, read: a slow receiver holds one worker thread briefly, never a page


def check_url(url):
    """Raise ValidationError unless the URL is http(s) and (in production) reaches a public address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError({"url": _("Enter an http or https URL.")})
    if settings.NOTIFICATIONS_WEBHOOK_ALLOW_PRIVATE:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except (socket.gaierror, UnicodeError):
        raise ValidationError({"url": _("The host name of this URL cannot be resolved.")}) from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global or address.is_multicast:
            raise ValidationError({"url": _("Webhooks only go to public addresses, not to %(address)s.")
                                   % {"address": address}})


def sign(secret, timestamp, body: bytes):
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret, header, body: bytes, *, now=None, window=REPLAY_WINDOW_SECONDS):
    """What a receiver does: the signature matches and the timestamp is recent."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - timestamp) > window:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), f"t={timestamp},v1={fields.get('v1', '')}")


def body_for(event):
    context = context_for(event)
    return json.dumps({
        "id": str(event.public_id),
        "type": event.kind,
        "created": event.created_at.isoformat(),
        "tenant": event.tenant.slug if event.tenant else None,
        "url": context["url"] or None,
        "data": {k: v for k, v in (event.payload or {}).items() if k != "path"},
    }, sort_keys=True).encode()


def post(delivery):
    """POST the delivery's event; raises on anything but a 2xx answer (the caller retries)."""
    check_url(delivery.webhook.url)  # again: the name may resolve elsewhere by now
    secret = delivery.webhook.secret
    if not secret:
        raise WebhookRefused("the webhook's secret cannot be read (FIELD_ENCRYPTION_KEY changed?): rotate it")
    body = body_for(delivery.event)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"{settings.PORTAL_NAME} webhooks",
        "X-Portal-Event": delivery.event.kind,
        "X-Portal-Delivery": str(delivery.event.public_id),
        SIGNATURE_HEADER: sign(secret, int(time.time()), body),
    }
    # No redirects: a public URL must not bounce the portal to an internal one.
    response = requests.post(delivery.webhook.url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False)
    if not 200 <= response.status_code < 300:
        raise WebhookRefused(f"HTTP {response.status_code} {response.reason}")


class WebhookRefused(Exception):
    pass
