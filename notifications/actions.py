"""Every write of the notifications app: record an event, fan it out, send each delivery once.

An event is recorded inside the caller's transaction, so it exists exactly when the change it
reports was committed; its delivery is enqueued on commit. Deliveries are claimed with a
conditional UPDATE, so a task that runs twice (a redelivered broker message, the sweep) sends
nothing twice. SMTP accepting a mail and the row being marked sent cannot be one transaction:
a worker killed between the two sends that one mail again when its lease ran out (at least
once, never silently lost).
"""

import logging
import random
import secrets

from celery import current_app
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from . import crypto, mail, webhooks
from .kinds import kind_for
from .models import Delivery, Event, MailSettings, Preference, Webhook
from .selectors import addressees, preferences_for, recipients, webhooks_for

log = logging.getLogger(__name__)

# By name: tasks.py imports this module, never the other way round. Enqueued on commit, so a
# task never looks for rows its caller has not committed yet (in a task there is no outer
# transaction and it is sent at once).
FAN_OUT_TASK = "notifications.tasks.fan_out"
SEND_TASK = "notifications.tasks.send_delivery"
LEASE_SECONDS = 120
BACKOFF_CAP_SECONDS = 3600


def _enqueue(task, *args, countdown=None):
    current_app.send_task(task, args=args, countdown=countdown or None)


def event_record(*, tenant, kind: str, subject_object=None, payload: dict | None = None, key: str = "") -> Event | None:
    """Record that something happened; call it inside the transaction of the change itself.

    With a `key`, news told once: None when an event with that key was recorded before.
    """
    kind_for(kind)
    fields = dict(
        tenant=tenant, kind=kind, payload=payload or {}, key=key,
        subject_type=ContentType.objects.get_for_model(subject_object) if subject_object is not None else None,
        subject_id=str(subject_object.pk) if subject_object is not None else "",
    )
    if key:
        if Event.objects.filter(key=key).exists():
            return None
        try:
            with transaction.atomic():  # a savepoint: a racing sweep's insert only loses this one
                event = Event.objects.create(**fields)
        except IntegrityError:
            return None
    else:
        event = Event.objects.create(**fields)
    transaction.on_commit(lambda: _enqueue(FAN_OUT_TASK, event.pk))
    return event


def event_fan_out(*, event_id) -> list[int]:
    """One delivery per recipient (a second run finds them made), each sent by its own task."""
    event = Event.objects.select_related("tenant").filter(pk=event_id).first()
    if event is None:
        return []
    rows = [Delivery(event=event, user=user, address=user.email, language=language)
            for user, language in recipients(event)]
    rows += [Delivery(event=event, address=address, language=language) for address, language in addressees(event)]
    rows += [Delivery(event=event, webhook=hook, channel=Delivery.Channel.WEBHOOK, address=hook.url,
                      language=settings.LANGUAGE_CODE) for hook in webhooks_for(event)]
    with transaction.atomic():
        Delivery.objects.bulk_create(rows, ignore_conflicts=True)
        Event.objects.filter(pk=event.pk, fanned_out_at__isnull=True).update(fanned_out_at=timezone.now())
    pending = list(event.deliveries.filter(state=Delivery.State.PENDING).values_list("pk", flat=True))
    for pk in pending:
        transaction.on_commit(lambda pk=pk: _enqueue(SEND_TASK, pk))
    return pending


def _claim(delivery_id):
    now = timezone.now()
    due = Q(state=Delivery.State.PENDING) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    abandoned = Q(state=Delivery.State.SENDING, lease_until__lt=now)
    claimed = Delivery.objects.filter(due | abandoned, pk=delivery_id).update(
        state=Delivery.State.SENDING, lease_until=now + timezone.timedelta(seconds=LEASE_SECONDS),
        attempts=F("attempts") + 1,
    )
    if not claimed:
        return None
    return Delivery.objects.select_related("event", "event__tenant", "user", "webhook").get(pk=delivery_id)


def delivery_send(*, delivery_id) -> bool:
    """Send one delivery if it is due and nobody else has it; True when this call sent it."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return False
    if _lapsed(delivery.event):
        Delivery.objects.filter(pk=delivery.pk, state=Delivery.State.SENDING).update(
            state=Delivery.State.LAPSED, lease_until=None)
        return False
    try:
        if delivery.webhook_id:
            webhooks.post(delivery)
        else:
            mail.message_for(delivery).send()
    except Exception as exc:  # noqa: BLE001 - SMTP down, a receiver answering 500: retry, never raise into a worker
        _retry_later(delivery, f"{exc.__class__.__name__}: {exc}"[:2000])
        return False
    Delivery.objects.filter(pk=delivery.pk, state=Delivery.State.SENDING).update(
        state=Delivery.State.SENT, sent_at=timezone.now(), lease_until=None, last_error="")
    if delivery.webhook_id:
        Webhook.objects.filter(pk=delivery.webhook_id, failing_since__isnull=False).update(failing_since=None)
    return True


def _lapsed(event):
    if not kind_for(event.kind).lapses or event.subject_type_id is None:
        return False
    model = event.subject_type.model_class()
    subject = model._default_manager.filter(pk=event.subject_id).first() if model is not None else None
    if subject is None:
        return True
    # The subject's own word, duck-typed: this app imports none of the others (DESIGN.md 2).
    check = getattr(subject, "notice_lapsed", None)
    return bool(check and check(event.payload))


def _retry_later(delivery, error):
    if delivery.attempts >= settings.NOTIFICATIONS_MAX_ATTEMPTS:
        log.warning("delivery %s failed for good after %s attempts: %s", delivery.pk, delivery.attempts, error)
        Delivery.objects.filter(pk=delivery.pk).update(state=Delivery.State.FAILED, lease_until=None, last_error=error)
        if delivery.webhook_id:
            Webhook.objects.filter(pk=delivery.webhook_id, failing_since__isnull=True).update(failing_since=timezone.now())
        return
    base = settings.NOTIFICATIONS_RETRY_SECONDS
    delay = min(BACKOFF_CAP_SECONDS, base * 2 ** (delivery.attempts - 1)) * (0.75 + random.random() / 2)
    log.info("delivery %s: %s, retry in %.1fs", delivery.pk, error, delay)
    Delivery.objects.filter(pk=delivery.pk).update(
        state=Delivery.State.PENDING, lease_until=None, last_error=error,
        next_attempt_at=timezone.now() + timezone.timedelta(seconds=delay))
    transaction.on_commit(lambda: _enqueue(SEND_TASK, delivery.pk, countdown=delay))


def delivery_retry(*, deliveries) -> int:
    """Staff send failed deliveries again (admin action): a fresh round of attempts."""
    ids = list(deliveries.filter(state=Delivery.State.FAILED).values_list("pk", flat=True))
    Delivery.objects.filter(pk__in=ids, state=Delivery.State.FAILED).update(
        state=Delivery.State.PENDING, attempts=0, next_attempt_at=None)
    for pk in ids:
        transaction.on_commit(lambda pk=pk: _enqueue(SEND_TASK, pk))
    return len(ids)


def notifications_sweep(*, older_than_seconds=60):
    """Pick up what a lost broker message or a dead worker left: events never fanned out,
    deliveries due again, and deliveries whose sender died mid-send."""
    now = timezone.now()
    stale = now - timezone.timedelta(seconds=older_than_seconds)
    events = list(Event.objects.filter(fanned_out_at__isnull=True, created_at__lt=stale).values_list("pk", flat=True))
    for pk in events:
        transaction.on_commit(lambda pk=pk: _enqueue(FAN_OUT_TASK, pk))
    due = Q(state=Delivery.State.PENDING, created_at__lt=stale) & (
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=stale))
    abandoned = Q(state=Delivery.State.SENDING, lease_until__lt=now)
    deliveries = list(Delivery.objects.filter(due | abandoned).values_list("pk", flat=True))
    for pk in deliveries:
        transaction.on_commit(lambda pk=pk: _enqueue(SEND_TASK, pk))
    return events, deliveries


def preferences_save(*, user, choices: dict, language: str):
    """Store a user's choices ({kind: on}); owners' security mails stay on whatever was sent."""
    if language not in dict(settings.LANGUAGES):
        raise ValidationError({"language": _("Choose a language.")})
    with transaction.atomic():
        for kind, _on, locked in preferences_for(user):
            if locked:
                continue
            Preference.objects.update_or_create(user=user, kind=kind.key,
                                                defaults={"email": bool(choices.get(kind.key))})
        MailSettings.objects.update_or_create(user=user, defaults={"language": language})


# --- webhooks ----------------------------------------------------------------------------------
def _require_manager(tenant, user):
    # The tenant's role rule, read through its relation (this app imports no tenants code):
    # owners and admins manage webhooks, as they manage the team.
    membership = tenant.memberships.filter(user=user).first() if user is not None else None
    if membership is None or not membership.can("manage_team"):
        raise PermissionDenied


def webhook_create(*, tenant, by, url: str, request=None) -> Webhook:
    url = (url or "").strip()
    _require_manager(tenant, by)
    webhooks.check_url(url)
    if Webhook.objects.filter(tenant=tenant, url=url).exists():
        raise ValidationError({"url": _("This URL is registered already.")})
    with transaction.atomic():
        hook = Webhook.objects.create(tenant=tenant, url=url, secret_encrypted=crypto.encrypt(secrets.token_urlsafe(32)))
        _webhook_changed(hook, by, request, change="created", action="webhook.created")
    return hook


def _webhook_changed(hook, by, request, *, change, action):
    """Told to the owners (a security mail) and written to the tenant's audit trail: who, from where."""
    hook.tenant.audit(action=action, request=request, actor=by, obj=hook)
    event_record(tenant=hook.tenant, kind="webhook_changed", payload={
        "url": hook.url, "change": change, "by": by.email if by else "", "path": reverse("notifications:webhooks")})


def webhook_rotate_secret(*, webhook, by, request=None) -> Webhook:
    """A new secret (the old one leaked, or cannot be read after a key change); deliveries from now
    on are signed with it. The caller shows it once."""
    _require_manager(webhook.tenant, by)
    with transaction.atomic():
        webhook.secret_encrypted = crypto.encrypt(secrets.token_urlsafe(32))
        webhook.save(update_fields=["secret_encrypted"])
        _webhook_changed(webhook, by, request, change="rotated", action="webhook.secret_rotated")
    log.info("webhook %s of tenant %s: secret rotated by user %s", webhook.public_id, webhook.tenant_id, by.pk)
    return webhook


def webhook_delete(*, webhook, by, request=None):
    _require_manager(webhook.tenant, by)
    with transaction.atomic():
        _webhook_changed(webhook, by, request, change="removed", action="webhook.removed")
        webhook.delete()


def webhook_send_test(*, webhook, by) -> Event:
    """The "send test" button: an event for this webhook only, through the ordinary path."""
    _require_manager(webhook.tenant, by)
    with transaction.atomic():
        return event_record(tenant=webhook.tenant, kind="webhook_test", payload={"webhook": str(webhook.public_id)})
