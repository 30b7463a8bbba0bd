"""One function writes the audit trail, for customers, staff, the API and the system alike."""

import ipaddress

from .models import AuditEvent


def client_ip(request):
    if request is None:
        return None
    remote = request.META.get("REMOTE_ADDR") or None
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    # Only our own reverse proxy (a private or loopback peer) is believed, and only the entry it
    # appended itself: the rightmost. Entries further left come from the client and can be forged.
    if forwarded and remote and _is_internal(remote):
        candidate = forwarded[-1]
        return candidate if _is_ip(candidate) else remote
    return remote


def _is_ip(value):
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _is_internal(value):
    return _is_ip(value) and (ipaddress.ip_address(value).is_private or ipaddress.ip_address(value).is_loopback)


def audit_record(*, action, tenant=None, request=None, actor=None, obj=None, via=None, details=None, actor_label=""):
    if actor is None and request is not None and request.user.is_authenticated:
        actor = request.user
    if via is None:
        via = getattr(request, "audit_via", AuditEvent.Via.WEB) if request is not None else AuditEvent.Via.SYSTEM
    label = actor_label or getattr(request, "audit_actor_label", "") or (actor.email if actor else "system")
    return AuditEvent.objects.create(
        tenant=tenant,
        actor=actor,
        actor_label=label[:200],
        action=action,
        object_type=obj._meta.model_name if obj is not None else "",
        object_id=str(getattr(obj, "public_id", None) or getattr(obj, "pk", "") or "") if obj is not None else "",
        # What the log names it by; an object whose str() is in words of the recording's language
        # (an invoice draft) offers a neutral one, since readers see the log in their own language.
        object_repr=str(getattr(obj, "audit_repr", None) or obj)[:200] if obj is not None else "",
        ip=client_ip(request),
        via=via,
        details=details or {},
    )
