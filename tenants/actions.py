"""Every write in the tenants app: keyword-only functions that check the rules, write, and audit.

Business rules raise ValidationError (keyed by form field where one fits) so views can show them
at the field; a role too low raises PermissionDenied (403), whatever the view already checked.
"""

import secrets
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import get_language, override
from django.utils.translation import gettext as _

from notifications.actions import event_record

from .audit import audit_record
from .models import (
    Duty,
    Invitation,
    Membership,
    Party,
    Responsibility,
    Role,
    ServiceRequest,
    SSHKey,
    Tenant,
    validate_time_zone,
)
from .sshkeys import parse_public_key


def _membership_of(tenant, user, permission):
    membership = Membership.objects.filter(tenant=tenant, user=user).first() if user else None
    if membership is None or not membership.can(permission):
        raise PermissionDenied
    return membership


def _owner_ids(tenant):
    # Locked so two owners demoting each other at once cannot leave the tenant without one.
    return list(
        Membership.objects.select_for_update().filter(tenant=tenant, role=Role.OWNER).values_list("pk", flat=True)
    )


def _unique_slug(name):
    base = slugify(name)[:50].strip("-") or "tenant"
    slug, n = base, 1
    while Tenant.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def tenant_create(*, name, owner, request=None):
    if owner.is_staff:
        # A staff account owning a customer tenant could order servers as that customer.
        raise ValidationError(_(
            "JIKU staff accounts do not create customer tenants. Customers sign up themselves; "
            "an accepted offer becomes a tenant through the sales pages."
        ))
    for _attempt in range(5):
        try:
            with transaction.atomic():
                tenant = Tenant.objects.create(name=name, slug=_unique_slug(name))
                Membership.objects.create(tenant=tenant, user=owner, role=Role.OWNER)
                audit_record(action="tenant.created", tenant=tenant, request=request, actor=owner, obj=tenant)
                return tenant
        except IntegrityError:
            continue  # another sign-up took the same slug between the check and the insert
    raise ValidationError({"name": _("Please choose a different name.")})


def tenant_create_for_customer(*, name, by, request=None, details=None):
    """JIKU creates a customer's tenant (an accepted offer); its owner joins by invitation."""
    for _attempt in range(5):
        try:
            with transaction.atomic():
                tenant = Tenant.objects.create(name=name, slug=_unique_slug(name))
                audit_record(action="tenant.created", tenant=tenant, request=request, actor=by, obj=tenant,
                             details=details or {})
                return tenant
        except IntegrityError:
            continue  # another tenant took the same slug between the check and the insert
    raise ValidationError({"name": _("Please choose a different name.")})


QUOTA_FIELDS = ("max_servers", "max_cores", "max_memory_mb", "max_disk_gb")


def tenant_quota_raise(*, tenant, at_least, by=None, request=None):
    """Raise the tenant's quotas to at least the given values (what a contract sold); never lowers one."""
    changed = {f: v for f, v in at_least.items() if f in QUOTA_FIELDS and getattr(tenant, f) < v}
    for field, value in changed.items():
        setattr(tenant, field, value)
    if changed:
        tenant.save(update_fields=list(changed))
        audit_record(action="tenant.quota_raised", tenant=tenant, request=request, actor=by, obj=tenant, details=changed)
    return tenant


def responsibilities_set(*, tenant, duties, by=None, request=None):
    """Who holds each duty, as a contract says; the pages and the actions read these rows."""
    for duty, party in duties.items():
        Responsibility.objects.update_or_create(tenant=tenant, duty=duty, defaults={"party": party})


def tenant_update(*, tenant, by, request, name, billing_address, vat_id, require_mfa, time_zone=None):
    time_zone = time_zone or tenant.time_zone
    try:
        validate_time_zone(time_zone)
    except ValidationError as exc:
        raise ValidationError({"time_zone": exc.messages}) from None
    with transaction.atomic():
        _membership_of(tenant, by, "manage_tenant")
        new = {"name": name, "billing_address": billing_address, "vat_id": vat_id, "require_mfa": require_mfa,
               "time_zone": time_zone}
        changed = {field: value for field, value in new.items() if getattr(tenant, field) != value}
        for field, value in changed.items():
            setattr(tenant, field, value)
        if changed:
            tenant.save(update_fields=list(changed))
            audit_record(
                action="tenant.updated", tenant=tenant, request=request, actor=by, obj=tenant,
                details={"changed": sorted(changed)},
            )
    return tenant


def _check_role_grant(actor_membership, role):
    """Only owners hand out or take away ownership; admins manage everyone else."""
    if role == Role.OWNER and actor_membership.role != Role.OWNER:
        raise ValidationError({"role": _("Only owners can make someone an owner.")})


def invitation_create(*, tenant, email, role, invited_by, request):
    email = email.strip().lower()
    with transaction.atomic():
        actor = _membership_of(tenant, invited_by, "manage_team")
        _check_role_grant(actor, role)
        if Membership.objects.filter(tenant=tenant, user__emailaddress__email__iexact=email).exists() or (
            Membership.objects.filter(tenant=tenant, user__email__iexact=email).exists()
        ):
            raise ValidationError({"email": _("%(email)s is already a member of this tenant.") % {"email": email}})
        pending = Invitation.objects.select_for_update().filter(tenant=tenant, email=email, accepted_at__isnull=True)
        for old in pending:
            if not old.is_expired:
                raise ValidationError(
                    {"email": _("%(email)s already has an open invitation. Revoke it first to send a new one.")
                     % {"email": email}}
                )
            old.delete()  # an expired invitation only blocks the unique constraint
        invitation = Invitation.objects.create(
            tenant=tenant, email=email, role=role, invited_by=invited_by, token=secrets.token_urlsafe(32)
        )
        audit_record(
            action="invitation.created", tenant=tenant, request=request, actor=invited_by, obj=invitation,
            details={"email": email, "role": role},
        )
        _invitation_record(invitation)
    return invitation


def invitation_issue(*, tenant, email, role, invited_by, request=None):
    """JIKU invites someone into a customer's tenant (e.g. the owner of an accepted offer).

    Replaces an open invitation for the same address; returns None when they are a member
    already. Mailed after the caller's transaction commits.
    """
    email = email.strip().lower()
    if Membership.objects.filter(tenant=tenant, user__email__iexact=email).exists():
        return None
    Invitation.objects.filter(tenant=tenant, email=email, accepted_at__isnull=True).delete()
    invitation = Invitation.objects.create(
        tenant=tenant, email=email, role=role, invited_by=invited_by, token=secrets.token_urlsafe(32)
    )
    audit_record(action="invitation.created", tenant=tenant, request=request, actor=invited_by, obj=invitation,
                 details={"email": email, "role": role})
    _invitation_record(invitation)
    return invitation


def _invitation_record(invitation):
    """The invitation mail, as a notification recorded with the invitation itself: sent after the
    commit and retried while the mail server is down, in the language of whoever invites (or the
    invitee's own, once they have an account), with the portal's configured address in the link."""
    with override(None):
        role = str(Role(invitation.role).label)  # the msgid: translated for the reader
    event_record(tenant=invitation.tenant, kind="invitation", subject_object=invitation, payload={
        "email": invitation.email, "language": get_language() or settings.LANGUAGE_CODE, "role": role,
        "inviter": invitation.invited_by.email if invitation.invited_by else "",
        "expires_at": invitation.expires_at.isoformat(),
        "path": reverse("tenants:invitation_accept", args=[invitation.token]),
    })


def invitation_revoke(*, invitation, by, request):
    with transaction.atomic():
        _membership_of(invitation.tenant, by, "manage_team")
        if invitation.accepted_at is not None:
            raise ValidationError(_("This invitation has already been accepted."))
        audit_record(
            action="invitation.revoked", tenant=invitation.tenant, request=request, actor=by, obj=invitation,
            details={"email": invitation.email},
        )
        invitation.delete()


def invitation_accept(*, invitation, user, request):
    """Makes `user` a member; the invitation must be open and addressed to a verified e-mail of theirs."""
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.accepted_at is not None:
            raise ValidationError(_("This invitation has already been used."), code="accepted")
        if invitation.is_expired:
            raise ValidationError(
                _("This invitation has expired. Please ask for a new one."), code="expired"
            )
        if user.is_staff:
            # Staff act for JIKU; as a member they could order and operate as the customer.
            raise ValidationError(_("JIKU staff accounts do not join customer tenants; use the staff pages."),
                                  code="staff")
        if not EmailAddress.objects.filter(user=user, email__iexact=invitation.email, verified=True).exists():
            raise ValidationError(
                _("This invitation was sent to %(email)s. Sign in with that address (and verify it) to accept it.")
                % {"email": invitation.email},
                code="email_mismatch",
            )
        membership, created = Membership.objects.get_or_create(
            tenant=invitation.tenant, user=user, defaults={"role": invitation.role}
        )
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_at"])
        audit_record(
            action="invitation.accepted", tenant=invitation.tenant, request=request, actor=user, obj=membership,
            details={"email": invitation.email, "role": membership.role, "new_member": created},
        )
        if created:
            # A security mail: owners always hear who gained access (notifications/kinds.py).
            with override(None):
                role = str(Role(membership.role).label)
            event_record(tenant=invitation.tenant, kind="member_joined", subject_object=membership,
                         payload={"member": user.email, "role": role, "path": reverse("tenants:team")})
    return membership


def membership_set_role(*, membership, role, by, request):
    with transaction.atomic():
        actor = _membership_of(membership.tenant, by, "manage_team")
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        if role == membership.role:
            return membership
        _check_role_grant(actor, role)
        if membership.role == Role.OWNER:
            if actor.role != Role.OWNER:
                raise ValidationError({"role": _("Only owners can change an owner's role.")})
            if _owner_ids(membership.tenant) == [membership.pk]:
                raise ValidationError({"role": _("The last owner cannot be demoted. Make someone else owner first.")})
        old = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        audit_record(
            action="membership.role_changed", tenant=membership.tenant, request=request, actor=by, obj=membership,
            details={"user": membership.user.email, "from": old, "to": role},
        )
    return membership


def membership_remove(*, membership, by, request):
    """Removes a member; a member removing themselves is leaving, which every role may do."""
    with transaction.atomic():
        leaving = membership.user_id == by.pk
        actor = membership if leaving else _membership_of(membership.tenant, by, "manage_team")
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        if membership.role == Role.OWNER:
            if not leaving and actor.role != Role.OWNER:
                raise ValidationError(_("Only owners can remove an owner."))
            if _owner_ids(membership.tenant) == [membership.pk]:
                raise ValidationError(_("The last owner cannot leave or be removed. Make someone else owner first."))
        audit_record(
            action="membership.left" if leaving else "membership.removed", tenant=membership.tenant,
            request=request, actor=by, obj=membership, details={"user": membership.user.email, "role": membership.role},
        )
        membership.delete()


def ssh_key_add(*, tenant, user, name, public_key, request):
    with transaction.atomic():
        _membership_of(tenant, user, "operate")
        try:
            key = parse_public_key(public_key)
        except ValidationError as exc:
            raise ValidationError({"public_key": exc}) from None
        existing = SSHKey.objects.filter(tenant=tenant, fingerprint=key.fingerprint).first()
        if existing is not None:
            raise ValidationError(
                {"public_key": _("This key is already stored as '%(name)s'.") % {"name": existing.name}}
            )
        name = (name or key.comment).strip()[:100]
        if not name:
            raise ValidationError({"name": _("The key has no comment; please give it a name.")})
        ssh_key = SSHKey.objects.create(
            tenant=tenant, user=user, name=name, key_type=key.key_type, public_key=key.openssh,
            fingerprint=key.fingerprint,
        )
        audit_record(
            action="ssh_key.added", tenant=tenant, request=request, actor=user, obj=ssh_key,
            details={"fingerprint": key.fingerprint},
        )
    return ssh_key


def ssh_key_delete(*, key, by, request):
    """Members delete their own keys; team managers delete any key of the tenant."""
    with transaction.atomic():
        actor = _membership_of(key.tenant, by, "operate")
        if key.user_id != by.pk and not actor.can("manage_team"):
            raise PermissionDenied
        audit_record(
            action="ssh_key.deleted", tenant=key.tenant, request=request, actor=by, obj=key,
            details={"fingerprint": key.fingerprint},
        )
        key.delete()


# --- API tokens --------------------------------------------------------------------------------
MAX_TOKEN_DAYS = 3650


def api_token_create(*, tenant, user, name, role=None, expires_days=None, request=None, actor_label=""):
    """A personal access token for `user` in `tenant`; returns (token row, the token text shown once).

    The role defaults to the user's own and may not be higher; every member may have tokens.
    """
    from . import apitokens
    from .models import ROLE_RANK, ApiToken

    name = (name or "").strip()
    with transaction.atomic():
        membership = _membership_of(tenant, user, "view")
        role = role or membership.role
        if role not in Role.values:
            raise ValidationError({"role": _("Choose a valid role.")})
        if ROLE_RANK[Role(role)] > ROLE_RANK[Role(membership.role)]:
            raise ValidationError({"role": _("A token cannot have a higher role than your own.")})
        if not name:
            raise ValidationError({"name": _("Give the token a name.")})
        if len(name) > 100:
            raise ValidationError({"name": _("A token name has at most 100 characters.")})
        if expires_days is not None and not 1 <= expires_days <= MAX_TOKEN_DAYS:
            raise ValidationError(
                {"expires_days": _("Choose between 1 and %(max)s days, or no expiry.") % {"max": MAX_TOKEN_DAYS}}
            )
        if ApiToken.objects.filter(tenant=tenant, user=user, name=name, revoked_at__isnull=True).exists():
            raise ValidationError({"name": _("You already have a token called %(name)s.") % {"name": name}})
        text, prefix, key_hash = apitokens.generate()
        expires_at = timezone.now() + timezone.timedelta(days=expires_days) if expires_days else None
        token = ApiToken.objects.create(
            tenant=tenant, user=user, name=name, role=role, prefix=prefix, key_hash=key_hash, expires_at=expires_at
        )
        audit_record(
            action="api_token.created", tenant=tenant, request=request, actor=user, obj=token,
            actor_label=actor_label, details={"role": role, "expires_at": expires_at.isoformat() if expires_at else None},
        )
    return token, text


def api_token_revoke(*, token, by, request=None, actor_label=""):
    """Users revoke their own tokens; team managers revoke any token of the tenant."""
    from .models import ApiToken

    with transaction.atomic():
        if by is not None and token.user_id != by.pk:
            _membership_of(token.tenant, by, "manage_team")
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is not None:
            raise ValidationError(_("This token has already been revoked."))
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            action="api_token.revoked", tenant=token.tenant, request=request, actor=by, obj=token,
            actor_label=actor_label, details={"owner": token.user.email},
        )
    return token


def api_token_touch(token, *, every_seconds=60):
    """Records use, at most once a minute per token, as one conditional UPDATE (no write per request)."""
    from django.db.models import Q

    from .models import ApiToken

    now = timezone.now()
    since = now - timezone.timedelta(seconds=every_seconds)
    if token.last_used_at is not None and token.last_used_at >= since:
        return
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=since)
    ApiToken.objects.filter(stale, pk=token.pk).update(last_used_at=now)


# --- service requests ----------------------------------------------------------------------------
def response_hours(tenant, priority):
    """The hours JIKU has to answer: the contract's, else the settings' defaults for self-service."""
    own = tenant.response_critical_hours if priority == ServiceRequest.Priority.CRITICAL else tenant.response_normal_hours
    return own if own is not None else settings.SERVICE_REQUEST_RESPONSE_HOURS[priority]


def response_times_set(*, tenant, critical_hours, normal_hours):
    """What a contract promises; service requests opened from now on are due by these."""
    Tenant.objects.filter(pk=tenant.pk).update(response_critical_hours=critical_hours, response_normal_hours=normal_hours)


def jiku_duties(tenant):
    return [r.duty for r in tenant.responsibilities.all() if r.party == Party.JIKU]


def service_request_create(*, tenant, user, subject, message="", duty="", priority=ServiceRequest.Priority.NORMAL,
                           server_public_id=None, server_name="", request=None):
    """Every tenant can reach JIKU; work on a duty only where the contract gives that duty to JIKU."""
    _membership_of(tenant, user, "operate")
    priority = priority or ServiceRequest.Priority.NORMAL
    errors = {}
    if not subject.strip():
        errors["subject"] = _("Say in a few words what it is about.")
    if duty and duty not in jiku_duties(tenant):
        errors["duty"] = _("Your contract does not give this to JIKU; choose “General question” or ask for a contract "
                           "change.")
    if priority not in ServiceRequest.Priority.values:
        errors["priority"] = _("Choose a priority.")
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    hours = response_hours(tenant, priority)
    with transaction.atomic():
        req = ServiceRequest.objects.create(
            tenant=tenant, created_by=user, subject=subject.strip()[:200], message=message, duty=duty,
            priority=priority, server_public_id=server_public_id, server_name=server_name,
            respond_by=now + timedelta(hours=hours),
        )
        audit_record(action="request.create", tenant=tenant, request=request, actor=user, obj=req,
                     details={"duty": duty, "priority": priority, "server": server_name})
        with override(None):
            duty_label = str(Duty(duty).label) if duty else ""
            priority_label = str(ServiceRequest.Priority(priority).label)
        event_record(tenant=tenant, kind="staff_request_new", subject_object=req, payload={
            "subject": req.subject, "message": req.message, "duty": duty_label, "server": req.server_name,
            "priority": priority, "priority_label": priority_label, "response_hours": hours,
            "respond_by": req.respond_by.isoformat(), "by": user.email,
            "path": reverse("staff:requests"),
        })
    return req


def service_request_assign(*, service_request, user, request=None):
    with transaction.atomic():
        req = ServiceRequest.objects.select_for_update().get(pk=service_request.pk)
        req.assignee = user
        if req.state == ServiceRequest.State.OPEN:
            req.state = ServiceRequest.State.IN_PROGRESS
        req.save(update_fields=["assignee", "state", "updated_at"])
        audit_record(action="request.assign", tenant=req.tenant, request=request, actor=user, obj=req,
                     details={"assignee": user.email})
    return req


def service_request_answer(*, service_request, user, state, answer, assignee=None, request=None):
    """Staff answer; the first answer stops the response clock, DONE closes the request."""
    if state not in ServiceRequest.State.values:
        raise ValidationError({"state": _("Choose a state.")})
    if assignee is not None and not (assignee.is_staff and assignee.is_active):
        raise ValidationError({"assignee": _("Only active JIKU staff can be assigned.")})
    with transaction.atomic():
        req = ServiceRequest.objects.select_for_update().get(pk=service_request.pk)
        before = (req.answer, req.state)
        req.state, req.answer, req.assignee = state, answer, assignee
        now = timezone.now()
        req.done_at = now if state == ServiceRequest.State.DONE else None
        if req.answered_at is None and (answer.strip() or state == ServiceRequest.State.DONE):
            req.answered_at = now
        req.save()
        audit_record(action="request.answer", tenant=req.tenant, request=request, actor=user, obj=req,
                     details={"state": req.state, "assignee": req.assignee.email if req.assignee else ""})
        if req.answer.strip() and (req.answer, req.state) != before:
            with override(None):
                state_label = str(ServiceRequest.State(req.state).label)
            event_record(tenant=req.tenant, kind="request_answered", subject_object=req, payload={
                "subject": req.subject, "answer": req.answer, "state_label": state_label,
                "path": reverse("tenants:request_list"),
            })
    return req
