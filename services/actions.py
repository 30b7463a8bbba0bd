"""Every write in services: keyword-only actions that check the rules, write and audit.

Bad input raises ValidationError (keyed by form field where one fits) and changes nothing; a user
without the sales permission gets PermissionDenied, whatever the view already checked.
"""

import datetime
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from notifications.actions import event_record
from provisioning import actions as provisioning
from provisioning.models import Cluster, Image
from tenants import actions as tenant_actions
from tenants.audit import audit_record, client_ip
from tenants.models import Role

from . import documents, rules, sample
from .contracts import default_backup_policy, effective_duties
from .models import (
    GUEST_KIND,
    Contract,
    Licence,
    Offer,
    OfferAcceptance,
    OfferRevision,
    Order,
    ServiceTier,
    Target,
    UseCase,
)
from .pricing import core_licences, licensed_users, managed_fees, offer_licences, quote
from .sizing import size

OFFER_VALID_DAYS = 30
OFFER_FIELDS = [
    "language", "company", "contact_name", "contact_email", "address", "employees", "systems", "server_age_years", "challenges",
    "tier", "duties", "hosting", "cluster", "node_name", "headroom_percent", "setup_fee", "migration_fee", "poc_fee",
    "term_months", "valid_until",
]
USE_CASE_FIELDS = ["name", "current_solution", "target", "plan", "image", "hostname", "note", "licences"]


def require_seller(user):
    if user is None or not user.is_active or not user.has_perm("services.sell"):
        raise PermissionDenied


# Orders ---------------------------------------------------------------------------------------


def _check_order(plan, image):
    if not plan.active:
        raise ValidationError({"plan": _("This plan is no longer offered.")})
    if image is not None and image.kind != plan.kind:
        raise ValidationError({"image": _("This image does not fit the plan's server type.")})


def _build(*, tenant, plan, image, hostname, ssh_keys, password, node, user, request):
    server = provisioning.server_create(
        tenant=tenant, image=image, hostname=hostname, cores=plan.cores, memory_mb=plan.memory_mb,
        disk_gb=plan.disk_gb, ssh_keys=ssh_keys, password=password, node=node,
        snapshot_slots=plan.snapshot_slots, backup_slots=plan.backup_slots, user=user, request=request,
    )
    policy = default_backup_policy(tenant)
    if policy:
        # JIKU holds backups under the contract: every new server gets the tier's schedule.
        frequency, _sep, at = policy.get("schedule", "daily 02:00").partition(" ")
        provisioning.backup_policy_set(
            server=server, frequency=frequency, time=datetime.time.fromisoformat(at or "02:00"),
            keep_last=policy.get("keep_last", 1), keep_daily=policy.get("keep_daily", 0),
            keep_weekly=policy.get("keep_weekly", 0), keep_monthly=policy.get("keep_monthly", 0),
            # JIKU's policy, set by the system: the customer who ordered may not set it themselves.
            managed_by_jiku=True, user=None,
        )
    return server


def order_create(
    *, tenant, plan, image, hostname, ssh_keys=(), password="", node=None, offer=None, pending=False, user=None,
    request=None,
):
    """Order `plan` built from `image`; the price is fixed on the order at this moment.

    `pending` records the order without building it: it waits for its node (a VDS being installed)
    and order_place builds it later with the same server_create call.
    """
    _check_order(plan, image)
    price = plan.price_monthly if node is None or node.dedicated_tenant_id is None else 0
    # A licence is owed on the customer's own VDS too: Microsoft licenses the guest, not the host.
    licences = [{"code": lic.code, "name": lic.name, "pack": lic.pack_cores, "minimum": lic.minimum_cores,
                 "price": str(lic.price_monthly)} for lic in core_licences(image)]
    with transaction.atomic():
        if pending:
            return Order.objects.create(
                tenant=tenant, plan=plan, hostname=hostname, price_monthly=price, state=Order.State.PENDING,
                node=node, image=image, offer=offer, licences=licences, created_by=user,
            )
        server = _build(
            tenant=tenant, plan=plan, image=image, hostname=hostname, ssh_keys=ssh_keys, password=password, node=node,
            user=user, request=request,
        )
        return Order.objects.create(
            tenant=tenant, plan=plan, server=server, hostname=hostname, price_monthly=price, node=node, image=image,
            offer=offer, licences=licences, created_by=user,
        )


def order_place(*, order, user=None):
    """Build a pending order if its node takes servers now; a refusal fails the order with the reason."""
    with transaction.atomic():
        order = Order.objects.select_for_update(of=("self",)).select_related("tenant", "plan", "image", "node").get(pk=order.pk)
        if order.state != Order.State.PENDING or (order.node is not None and not order.node.accepts_new_servers):
            return order
        try:
            with transaction.atomic():
                _check_order(order.plan, order.image)
                if order.node is not None and not provisioning.image_await_on(image=order.image, node=order.node):
                    return order  # the image is being fetched onto the new node; a later pass places it
                order.server = _build(
                    tenant=order.tenant, plan=order.plan, image=order.image, hostname=order.hostname,
                    ssh_keys=list(order.tenant.ssh_keys.all()), password="", node=order.node, user=user, request=None,
                )
        except ValidationError as exc:
            order.state, order.error = Order.State.FAILED, " ".join(exc.messages)
        else:
            order.state, order.error = Order.State.PLACED, ""
        order.save(update_fields=["server", "state", "error"])
        audit_record(action=f"order.{order.state}", tenant=order.tenant, actor=user, obj=order,
                     details={"hostname": order.hostname, "error": order.error})
    return order


def orders_place_pending(*, offer=None):
    """Place every pending order whose node is online (or that has no node); returns how many were placed."""
    qs = Order.objects.filter(state=Order.State.PENDING).order_by("id")
    if offer is not None:
        qs = qs.filter(offer=offer)
    placed = 0
    for order in qs.select_related("node"):
        if order.node is None or order.node.accepts_new_servers:
            placed += order_place(order=order).state == Order.State.PLACED
    return placed


# Contracts ------------------------------------------------------------------------------------


def contract_fees(*, tier, duties, offer=None, vds=None, user_licences=()):
    """The prices a contract freezes: what billing charges every month and once, in exact decimals.

    Managed duties cost what JIKU charges for the duty, per customer and per managed server; per-user
    licences are agreed for the offer's number of users.
    """
    users = licensed_users(offer.employees) if offer is not None else 1
    return {
        "tier": {"slug": tier.slug, "name": tier.name},
        "duties": [{"duty": d, "fee": str(per_month), "per_server": str(per_server)}
                   for d, per_month, per_server in managed_fees(duties) if per_month or per_server],
        "licences": [{"code": lic.code, "name": lic.name, "quantity": users, "price": str(lic.price_monthly)}
                     for lic in user_licences],
        "vds": {"name": vds.name, "price": str(vds.price_monthly)} if vds is not None else None,
        "once": [{"code": code, "amount": str(amount)} for code, amount in (
            ("setup", offer.setup_fee), ("migration", offer.migration_fee), ("poc", offer.poc_fee)) if amount]
        if offer is not None else [],
        # Payment terms: days to pay an invoice, then the days after the due date of each reminder level.
        "terms": {"payment_days": settings.BILLING_PAYMENT_DAYS, "reminder_days": list(settings.BILLING_REMINDER_DAYS)},
    }


def contract_start(*, tenant, tier, duties=None, offer=None, term_months=12, vds=None, user_licences=(), user=None,
                   request=None):
    """Bind `tenant` to `tier` and write who holds each duty; a running contract ends here.

    The contract freezes its prices (contract_fees): a later change of the tier's fees or the VDS
    price list never changes what this customer pays.
    """
    matrix = effective_duties(tier, duties)
    with transaction.atomic():
        now = timezone.now()
        Contract.objects.filter(tenant=tenant, ended_at__isnull=True).update(ended_at=now)
        contract = Contract.objects.create(
            tenant=tenant, tier=tier, offer=offer, duties=matrix, term_months=term_months, started_at=now,
            fees=contract_fees(tier=tier, duties=matrix, offer=offer, vds=vds, user_licences=user_licences),
            created_by=user,
        )
        tenant_actions.responsibilities_set(tenant=tenant, duties=matrix, by=user, request=request)
        tenant_actions.response_times_set(tenant=tenant, critical_hours=tier.response_critical_hours,
                                          normal_hours=tier.response_normal_hours)
        audit_record(action="contract.started", tenant=tenant, request=request, actor=user, obj=contract,
                     details={"tier": tier.slug, "duties": matrix})
    return contract


# Offers ---------------------------------------------------------------------------------------


def _next_number():
    year = timezone.localdate().year
    count = Offer.objects.filter(number__startswith=f"A-{year}-").count()
    return f"A-{year}-{count + 1:04d}"


def check_use_cases(use_cases):
    """Every use case needs a target; containers and VMs also a fitting plan and a hostname."""
    errors = []
    per_user = set(Licence.objects.filter(active=True, metric=Licence.Metric.PER_USER).values_list("code", flat=True))
    for uc in use_cases:
        label = uc.name or _("(unnamed)")
        unknown = sorted(set(uc.licences or []) - per_user)
        if unknown:
            errors.append(_("Use case %(name)s names licences that are not offered per user: %(codes)s.")
                          % {"name": label, "codes": ", ".join(unknown)})
        if not uc.name.strip():
            errors.append(_("Every use case needs a name."))
        if uc.target not in Target.values:
            errors.append(_("Use case %(name)s has no target.") % {"name": label})
            continue
        if uc.target not in GUEST_KIND:
            continue
        kind = GUEST_KIND[uc.target]
        if uc.plan is None:
            errors.append(_("Use case %(name)s needs a plan for its %(target)s.")
                          % {"name": label, "target": Target(uc.target).label})
        elif uc.plan.kind != kind:
            errors.append(_("The plan of use case %(name)s does not fit its target.") % {"name": label})
        if uc.image is not None and uc.image.kind != kind:
            errors.append(_("The image of use case %(name)s does not fit its target.") % {"name": label})
        try:
            provisioning.validate_hostname(uc.hostname)
        except ValidationError as exc:
            errors.append(f"{label}: {' '.join(exc.messages)}")
    if errors:
        raise ValidationError(errors)


def _validate(offer, use_cases):
    offer.full_clean(exclude=["number", "tenant", "created_by"])
    check_use_cases(use_cases)
    if any(u.image is not None and u.image.cluster_id != offer.cluster_id for u in use_cases):
        raise ValidationError({"cluster": _("Every chosen image must belong to the offer's cluster.")})
    if offer.hosting == Offer.Hosting.VDS and not offer.node_name:
        raise ValidationError({"node_name": _("Name the node the VDS will have.")})
    sizing = size(use_cases=use_cases, headroom_percent=offer.headroom_percent, tier=offer.tier)
    if offer.hosting == Offer.Hosting.VDS and sizing.errors:
        raise ValidationError({"hosting": sizing.errors})
    if offer.hosting == Offer.Hosting.SHARED and not sizing.shared_possible:
        raise ValidationError(
            {"hosting": _("This tier or size cannot run on JIKU's shared nodes; choose a dedicated VDS.")}
        )
    return sizing


def _snapshot(offer, use_cases):
    data = {f: str(getattr(offer, f)) for f in OFFER_FIELDS if f not in ("tier", "cluster", "duties", "challenges")}
    data.update(tier=offer.tier.slug, cluster=offer.cluster_id, duties=offer.duties, challenges=offer.challenges)
    data["use_cases"] = [
        {"name": u.name, "current_solution": u.current_solution, "target": u.target, "hostname": u.hostname,
         "plan": u.plan.slug if u.plan else None, "image": u.image_id, "note": u.note, "licences": u.licences}
        for u in use_cases
    ]
    return data


def _save_revision(offer, use_cases, sizing, user):
    with translation.override(offer.language):  # the lines are kept as the customer reads them
        q = quote(offer=offer, sizing=sizing, duties=offer.duties)
        lines = q.as_data()
    OfferRevision.objects.create(
        offer=offer, number=offer.revision, snapshot=_snapshot(offer, use_cases), quote=lines,
        monthly_net=q.monthly_total.net, once_net=q.once_total.net, created_by=user,
    )


def _write(offer, use_cases, user):
    """Saves the offer and replaces its use cases; the caller holds the transaction."""
    offer.duties = effective_duties(offer.tier, offer.duties)
    sizing = _validate(offer, use_cases)
    offer.save()
    offer.use_cases.all().delete()
    for position, uc in enumerate(use_cases):
        uc.pk, uc.offer, uc.position = None, offer, position
    UseCase.objects.bulk_create(use_cases)
    _save_revision(offer, use_cases, sizing, user)
    return offer


def offer_create_sample(*, user, request=None, company=None, contact_email=None, tenant=None, cluster=None,
                        language=None, node_name=None):
    """A new draft pre-filled with the concept's sample customer; the rules suggest every target."""
    require_seller(user)
    language = language if language in sample.SAMPLE else ("de" if (get_language() or "de").startswith("de") else "en")
    data = sample.SAMPLE[language]
    tier = ServiceTier.objects.filter(slug=sample.COMMON["tier_slug"], active=True).first() or (
        ServiceTier.objects.filter(active=True).first()
    )
    if tier is None:
        raise ValidationError(_("Set up the service tiers in the administration first."))
    offer = Offer(
        language=language, company=company or data["company"], contact_name=data["contact_name"],
        address=data["address"] if company is None else "", contact_email=contact_email or sample.COMMON["contact_email"], systems=data["systems"], tier=tier,
        cluster=cluster or Cluster.objects.filter(active=True).first(), tenant=tenant,
        node_name=node_name or sample.COMMON["node_name"],
        valid_until=timezone.localdate() + timedelta(days=OFFER_VALID_DAYS), created_by=user,
        **{k: v for k, v in sample.COMMON.items() if k not in ("tier_slug", "contact_email", "node_name")},
    )
    active_rules = list(rules.SuggestionRule.objects.filter(active=True).prefetch_related("licences"))
    use_cases = []
    for name, current in data["use_cases"]:
        suggestion = rules.suggest(name, current, active_rules, cluster=offer.cluster) or {"target": Target.SAAS}
        use_cases.append(UseCase(name=name, current_solution=current, **suggestion))
    for _attempt in range(5):
        try:
            with transaction.atomic():
                offer.number = _next_number()
                _write(offer, use_cases, user)
                audit_record(action="offer.created", request=request, actor=user, obj=offer,
                             details={"sample": True, "company": offer.company})
                return offer
        except IntegrityError:
            offer.pk = None  # another offer took the number between count and insert
    raise ValidationError(_("Could not number the offer; please try again."))


def offer_update(*, offer, user, fields, use_cases, request=None):
    """Apply edited fields and use cases (unsaved UseCase objects) as the offer's next revision."""
    require_seller(user)
    with transaction.atomic():
        offer = Offer.objects.select_for_update().get(pk=offer.pk)
        if not offer.is_editable:
            raise ValidationError(_("Only a draft or sent offer that has not expired can be changed."))
        for name, value in fields.items():
            if name in OFFER_FIELDS:
                setattr(offer, name, value)
        offer.revision += 1
        # The customer holds the sent revision, not this one: it has to be sent again before anyone
        # can accept it, so what is accepted is always what the customer saw.
        offer.state = Offer.State.DRAFT
        _write(offer, list(use_cases), user)
        audit_record(action="offer.updated", request=request, actor=user, obj=offer,
                     details={"revision": offer.revision})
    return offer


def _check_open(offer):
    if offer.state == Offer.State.ACCEPTED:
        raise ValidationError(_("This offer has already been accepted."), code="accepted")
    if offer.state == Offer.State.DECLINED:
        raise ValidationError(_("This offer was declined."), code="declined")
    if offer.is_expired:
        raise ValidationError(
            _("This offer expired on %(date)s and can no longer be accepted.") % {"date": offer.valid_until},
            code="expired",
        )


def _check_prices_unchanged(offer, sizing):
    """The contract and the orders take today's catalogue prices; they must be the revision's."""
    revision = offer.current_revision
    q = quote(offer=offer, sizing=sizing, duties=offer.duties)
    if revision is None or (q.monthly_total.net, q.once_total.net) != (revision.monthly_net, revision.once_net):
        raise ValidationError(
            _("The catalogue's prices changed after revision %(revision)s was written; save the offer as a new "
              "revision and send it to the customer again.") % {"revision": offer.revision},
            code="prices_changed",
        )


def _set_state(offer, user, request, state, allowed):
    require_seller(user)
    with transaction.atomic():
        offer = Offer.objects.select_for_update().get(pk=offer.pk)
        _check_open(offer)
        if offer.state not in allowed:
            raise ValidationError(_("This offer cannot be changed that way in its current state."))
        offer.state = state
        offer.save(update_fields=["state", "updated_at"])
        audit_record(action=f"offer.{state}", tenant=offer.tenant, request=request, actor=user, obj=offer)
    return offer


def offer_send(*, offer, user, request=None):
    """Marks the offer sent and mails the contact their link to read, print and accept it.

    The mail is a notification recorded with the change: a worker sends it in the offer's language,
    and a mail server that is down delays it instead of failing the page (the link is also on the
    offer page for staff to pass on)."""
    with transaction.atomic():
        offer = _set_state(offer, user, request, Offer.State.SENT, {Offer.State.DRAFT})
        event_record(tenant=None, kind="offer_sent", subject_object=offer, payload={
            "email": offer.contact_email, "language": offer.language, "contact": offer.contact_name,
            "number": offer.number, "revision": offer.revision, "company": settings.COMPANY.get("name", ""),
            "company_email": settings.COMPANY.get("email", ""), "valid_by": offer.valid_until.isoformat(),
            "path": _offer_link_path(offer),
        })
    return offer


def _offer_link_path(offer):
    return reverse("services:offer_public", args=[offer_link_token(offer=offer)])


def offer_link_url(*, offer, request=None):
    path = _offer_link_path(offer)
    return request.build_absolute_uri(path) if request is not None else settings.SITE_URL.rstrip("/") + path


def offer_decline(*, offer, user, request=None):
    return _set_state(offer, user, request, Offer.State.DECLINED, {Offer.State.DRAFT, Offer.State.SENT})


def offers_expire():
    """Mark open offers past their date expired (periodic); returns how many."""
    return Offer.objects.filter(
        state__in=[Offer.State.DRAFT, Offer.State.SENT], valid_until__lt=timezone.localdate()
    ).update(state=Offer.State.EXPIRED, updated_at=timezone.now())


def _image_for(guest, cluster):
    if guest.image is not None:
        return guest.image
    image = Image.objects.filter(cluster=cluster, tenant__isnull=True, active=True, kind=guest.kind).order_by("name").first()
    if image is None:
        raise ValidationError(_("Cluster %(cluster)s has no image for %(hostname)s.")
                              % {"cluster": cluster, "hostname": guest.hostname})
    return image


def _register_vds(offer, tenant, sizing, user, request):
    """The customer's VDS becomes a dedicated node; until JIKU has installed Proxmox it is awaited."""
    try:
        return provisioning.node_register_vds(
            cluster=offer.cluster, name=offer.node_name, tenant=tenant, cores=sizing.vds.cores,
            memory_mb=sizing.vds.memory_gb * 1024, disk_gb=sizing.vds.disk_gb, user=user, request=request,
        )
    except ValidationError as exc:
        raise ValidationError({"node_name": exc.messages}) from exc


def _make_room(tenant, guests):
    """A new customer's quota fits what it bought, so acceptance never fails on the default quota."""
    used = provisioning.quota_usage(tenant)
    needs = {
        "max_servers": used["servers"] + len(guests),
        "max_cores": used["cores"] + sum(g.plan.cores for g in guests),
        "max_memory_mb": used["memory_mb"] + sum(g.plan.memory_mb for g in guests),
        "max_disk_gb": used["disk_gb"] + sum(g.plan.disk_gb for g in guests),
    }
    tenant_actions.tenant_quota_raise(tenant=tenant, at_least=needs)


LINK_SALT = "services.offer-link"
LINK_MAX_AGE = timedelta(days=120)  # a link never outlives four months, whatever the offer's validity


def offer_link_token(*, offer):
    """The customer's link to the offer's current revision: signed, so it cannot be guessed or altered."""
    return signing.dumps({"offer": str(offer.public_id), "revision": offer.revision}, salt=LINK_SALT)


def offer_from_link(*, token):
    """The offer and the revision number a link names; ValidationError for a forged or old link."""
    try:
        data = signing.loads(token, salt=LINK_SALT, max_age=LINK_MAX_AGE)
        offer = Offer.objects.select_related("tier", "cluster").get(public_id=data["offer"])
    except (signing.BadSignature, KeyError, ValueError, Offer.DoesNotExist):
        raise ValidationError(_("This link is not valid (any more). Please ask JIKU for a new one."),
                              code="invalid") from None
    return offer, data["revision"]


def offer_accept(*, offer, user, name, position, reason, request=None):
    """JIKU records a paper acceptance: who signed, and why staff may act on it (the reason)."""
    require_seller(user)
    _check_open(offer)
    errors = _signer_errors(name, position)
    if not reason.strip():
        errors["reason"] = _("Say how the customer accepted (e.g. the signed offer received by post).")
    if errors:
        raise ValidationError(errors)
    return _accept(offer=offer, actor=user, request=request, number=None, acceptance={
        "channel": OfferAcceptance.Channel.PAPER, "name": name.strip(), "position": position.strip(),
        "note": reason.strip(), "recorded_by": user})


def offer_accept_online(*, token, name, position, confirmed, request=None):
    """The customer accepts with obligation to pay through the link they were sent."""
    offer, number = offer_from_link(token=token)
    _check_open(offer)
    errors = _signer_errors(name, position)
    if not confirmed:
        errors["confirmed"] = _("Please confirm that you accept the offer with obligation to pay.")
    if errors:
        raise ValidationError(errors)
    if offer.state == Offer.State.DRAFT:
        raise ValidationError(_("This offer has been changed since it was sent to you; JIKU will send you the new "
                                "version."), code="superseded")
    try:
        return _accept(offer=offer, actor=None, request=request, number=number,
                       acceptance={"channel": OfferAcceptance.Channel.ONLINE, "name": name.strip(),
                                   "position": position.strip(), "note": ""})
    except ValidationError as exc:
        if getattr(exc, "code", None) == "prices_changed":  # staff's words would mean nothing to the customer
            raise ValidationError(_("This offer can no longer be accepted as it stands; JIKU will send you an "
                                    "updated one."), code="prices_changed") from None
        raise


def _signer_errors(name, position):
    errors = {}
    if not name.strip():
        errors["name"] = _("Please enter the name of the person who accepts.")
    if not position.strip():
        errors["position"] = _("Please enter their position in the company (e.g. managing director).")
    return errors


def _accept(*, offer, actor, request, number, acceptance):
    """The customer said yes: tenant, owner invitation, contract, VDS node and orders, in one go.

    `number` is the revision the customer saw (None when staff record a paper acceptance of the
    current one). Orders are recorded pending inside the transaction and placed after it, so a node
    that is not installed yet (or a refusal by placement) never undoes the acceptance itself.
    """
    with transaction.atomic():
        offer = Offer.objects.select_for_update(of=("self",)).select_related("tier", "cluster", "tenant").get(pk=offer.pk)
        _check_open(offer)
        if number is not None and number != offer.revision:
            raise ValidationError(_("This offer has been replaced by revision %(revision)s; please accept that "
                                    "one.") % {"revision": offer.revision}, code="superseded")
        use_cases = list(offer.use_cases.select_related("plan", "image"))
        sizing = _validate(offer, use_cases)
        _check_prices_unchanged(offer, sizing)
        if sizing.guests and offer.cluster is None:
            raise ValidationError({"cluster": _("Choose the cluster the servers will run in.")})
        tenant = offer.tenant
        if tenant is None:
            tenant = tenant_actions.tenant_create_for_customer(name=offer.company, by=actor, request=request,
                                                              details={"offer": offer.number})
        if offer.address and not tenant.billing_address:
            tenant.billing_address = offer.address
            tenant.save(update_fields=["billing_address"])
        images = {g.hostname: _image_for(g, offer.cluster) for g in sizing.guests}
        _make_room(tenant, sizing.guests)
        node = _register_vds(offer, tenant, sizing, actor, request) if offer.hosting == Offer.Hosting.VDS and sizing.guests else None
        contract_start(tenant=tenant, tier=offer.tier, duties=offer.duties, offer=offer, term_months=offer.term_months,
                       vds=sizing.vds if node is not None else None, user=actor, request=request,
                       user_licences=[lic for lic in offer_licences(sizing.guests) if lic.metric == Licence.Metric.PER_USER])
        tenant_actions.invitation_issue(tenant=tenant, email=offer.contact_email, role=Role.OWNER, invited_by=actor,
                                        request=request)
        for guest in sizing.guests:
            order_create(tenant=tenant, plan=guest.plan, image=images[guest.hostname], hostname=guest.hostname,
                         node=node, offer=offer, pending=True, user=actor)
        now = timezone.now()
        record = OfferAcceptance(offer=offer, revision=offer.current_revision, accepted_at=now,
                                 ip_address=client_ip(request) if request is not None else None,
                                 user_agent=request.META.get("HTTP_USER_AGENT", "")[:300] if request is not None else "",
                                 **acceptance)
        # The kept document shows the acceptance itself, the way a countersigned copy would.
        record.html = documents.offer_html(offer, extra={"acceptance": record})
        record.pdf = documents.pdf(record.html)
        record.save()
        offer.state, offer.tenant, offer.accepted_at = Offer.State.ACCEPTED, tenant, now
        offer.save(update_fields=["state", "tenant", "accepted_at", "updated_at"])
        audit_record(action="offer.accepted", tenant=tenant, request=request, actor=actor, obj=offer,
                     actor_label="" if actor else f"{record.name} ({record.position})",
                     details={"node": node.name if node else None, "orders": [g.hostname for g in sizing.guests],
                              "channel": record.channel, "revision": offer.revision, "signer": record.name,
                              "reason": record.note})
    orders_place_pending(offer=offer)
    return offer
