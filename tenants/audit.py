"""One function writes the audit trail, for customers, staff, the API and the system alike."""

from .models import AuditEvent


def client_ip(request):
    if request is None:
        return None
    # Behind the production proxy the client address is the first X-Forwarded-For entry.
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    return (forwarded.split(",")[0].strip() or request.META.get("REMOTE_ADDR")) or None


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
        object_repr=str(obj)[:200] if obj is not None else "",
        ip=client_ip(request),
        via=via,
        details=details or {},
    )
