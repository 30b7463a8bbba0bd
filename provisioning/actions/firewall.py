"""Firewall per server, the tenant's address sets and security groups.

The portal keeps the rule order; every change replaces the server's (or group's) list in one
transaction and queues one firewall operation per affected server, which writes the list to
Proxmox deterministically (provisioning/operations/firewall.py). A rule set that would close
SSH and RDP to everyone needs `confirm_lockout=True`.
"""

from collections.abc import Iterable

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from provisioning import engine
from provisioning.models import (
    AddressSet,
    Drift,
    Firewall,
    FirewallRule,
    Operation,
    SecurityGroup,
    Server,
    Verdict,
)
from provisioning.netspec import covers_port
from tenants.audit import audit_record

from .servers import ensure_active, lock_server

MANAGEMENT_PORTS = (22, 3389)
MAX_RULES = 100
RULE_FIELDS = ("direction", "action", "protocol", "dest_port", "source", "source_set", "dest", "dest_set", "comment",
               "enabled", "group")
GONE = (Server.Status.DELETING, Server.Status.DELETED, Server.Status.FAILED)

PRESETS = {
    "ssh_office": gettext_lazy("Only SSH from the office"),
    "web": gettext_lazy("Web server: HTTP and HTTPS for everyone, SSH from the office"),
    "rdp_vpn": gettext_lazy("RDP only through the VPN"),
}
NEEDS_SOURCE = {"ssh_office", "rdp_vpn"}


# --- reading ---------------------------------------------------------------------------------------
def firewall_of(server):
    """The server's firewall row (off, no rules, until someone turns it on)."""
    return Firewall.objects.get_or_create(server=server)[0]


def rule_specs(queryset):
    """Rules as the dicts the actions take, in the portal's order; they keep their ids through an edit."""
    return [{"public_id": r.public_id, **{f: getattr(r, f) for f in RULE_FIELDS}}
            for r in queryset.select_related("group", "source_set", "dest_set")]


def _expanded(rules):
    for rule in rules:
        if rule.group is not None:
            if rule.enabled:
                yield from FirewallRule.objects.filter(security_group=rule.group).order_by("position", "id")
        else:
            yield rule


def management_reachable(*, enabled, policy_in, rules):
    """Whether SSH or RDP stays open to someone: the first inbound rule that matches the port for
    everyone decides; an allow from some sources (the office, the VPN) keeps the path open."""
    if not enabled:
        return True
    for port in MANAGEMENT_PORTS:
        verdict = policy_in
        for rule in _expanded(rules):
            if not rule.enabled or rule.direction != FirewallRule.Direction.IN:
                continue
            if rule.protocol not in ("", FirewallRule.Protocol.TCP) or not covers_port(rule.dest_port, port):
                continue
            restricted = bool(rule.source or rule.source_set_id)
            if rule.action == Verdict.ACCEPT:
                verdict = Verdict.ACCEPT
                break
            if not restricted:
                verdict = rule.action
                break
        if verdict == Verdict.ACCEPT:
            return True
    return False


# --- checks ------------------------------------------------------------------------------------------
def _own(tenant, obj, field, message):
    if obj is not None and obj.tenant_id != tenant.pk:
        raise ValidationError({field: message})


def _build(tenant, specs, *, owner):
    """Unsaved, checked FirewallRule rows from dicts; the first bad rule's field messages are raised."""
    specs = list(specs)
    if len(specs) > MAX_RULES:
        raise ValidationError({"rules": _("Keep at most %(n)s rules.") % {"n": MAX_RULES}})
    rules = []
    for position, spec in enumerate(specs):
        spec = dict(spec)
        keep_id = spec.pop("public_id", None)
        unknown = set(spec) - set(RULE_FIELDS)
        if unknown:
            raise ValidationError({"rules": _("Unknown rule fields: %(f)s.") % {"f": ", ".join(sorted(unknown))}})
        rule = FirewallRule(position=position, **owner, **spec)
        if keep_id is not None:
            rule.public_id = keep_id
        _own(tenant, rule.source_set, "source_set", _("Choose an address set of your own tenant."))
        _own(tenant, rule.dest_set, "dest_set", _("Choose an address set of your own tenant."))
        _own(tenant, rule.group, "group", _("Choose a security group of your own tenant."))
        rule.full_clean(exclude=["firewall", "security_group", "public_id"])
        rules.append(rule)
    return rules


def _check_lockout(firewall, rules, confirm_lockout):
    if confirm_lockout or management_reachable(enabled=firewall.enabled, policy_in=firewall.policy_in, rules=rules):
        return
    raise ValidationError(
        {"confirm_lockout": _("These rules close SSH and RDP to everyone: you could reach the server only through "
                              "the console. Confirm to save them anyway.")},
        code="lockout",
    )


def _usable_server(server):
    ensure_active(server.tenant)
    if server.status in GONE:
        raise ValidationError(_("This server is being deleted or was never built; its firewall cannot change."))


def _queue_apply(server, user):
    """One waiting firewall operation per server is enough: it reads the rules when it runs."""
    waiting = Operation.objects.filter(server=server, kind=Operation.Kind.FIREWALL, state=Operation.State.QUEUED).first()
    return waiting or engine.operation_create(server=server, kind=Operation.Kind.FIREWALL, user=user)


def _servers_using(*, groups=(), address_sets=()):
    groups, address_sets = list(groups), list(address_sets)
    if address_sets:
        groups += list(SecurityGroup.objects.filter(
            Q(rules__source_set__in=address_sets) | Q(rules__dest_set__in=address_sets)).distinct())
    rules = FirewallRule.objects.filter(firewall__isnull=False).filter(
        Q(group__in=groups) | Q(source_set__in=address_sets) | Q(dest_set__in=address_sets))
    return Server.objects.filter(firewall__rules__in=rules).exclude(status__in=GONE).distinct()


# --- a server's firewall -------------------------------------------------------------------------
def firewall_set(
    *, server: Server, rules: Iterable[dict] | None = None, enabled: bool | None = None, policy_in: str | None = None,
    policy_out: str | None = None, confirm_lockout: bool = False, user: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
) -> Operation:
    """Switch the firewall, set its policies and (when `rules` is given) replace its rules in this order."""
    with transaction.atomic():
        server = lock_server(server)
        _usable_server(server)
        firewall = firewall_of(server)
        if enabled is not None:
            firewall.enabled = bool(enabled)
        for field, value in (("policy_in", policy_in), ("policy_out", policy_out)):
            if value is not None:
                if value not in Verdict.values:
                    raise ValidationError({field: _("Choose Allow, Drop or Reject.")})
                setattr(firewall, field, value)
        if rules is None:
            new = list(firewall.rules.select_related("group"))
        else:
            new = _build(server.tenant, rules, owner={"firewall": firewall})
        _check_lockout(firewall, new, confirm_lockout)
        firewall.save(update_fields=["enabled", "policy_in", "policy_out"])
        if rules is not None:
            firewall.rules.all().delete()
            FirewallRule.objects.bulk_create(new)
        op = _queue_apply(server, user)
        audit_record(action="firewall.change", tenant=server.tenant, request=request, actor=user, obj=server,
                     details={"enabled": firewall.enabled, "rules": len(new)})
        return op


def _edit(server, change, **kw):
    with transaction.atomic():
        server = lock_server(server)
        specs = rule_specs(firewall_of(server).rules.all())
        change(specs)
        return firewall_set(server=server, rules=specs, **kw)


def firewall_rule_add(
    *, server: Server, rule: dict, position: int | None = None, confirm_lockout: bool = False,
    user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
) -> Operation:
    """Add one rule at `position` in the portal's order (default: the end)."""
    def change(specs):
        specs.insert(len(specs) if position is None else max(0, position), dict(rule))
    return _edit(server, change, confirm_lockout=confirm_lockout, user=user, request=request)


def _index(server, rule):
    ids = list(firewall_of(server).rules.values_list("public_id", flat=True))
    if rule.firewall_id is None or rule.firewall.server_id != server.pk or rule.public_id not in ids:
        raise ValidationError({"rule": _("This rule does not belong to this server.")})
    return ids.index(rule.public_id)


def firewall_rule_delete(
    *, rule: FirewallRule, confirm_lockout: bool = False, user: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
) -> Operation:
    server = rule.firewall.server
    index = _index(server, rule)
    return _edit(server, lambda specs: specs.pop(index), confirm_lockout=confirm_lockout, user=user, request=request)


def firewall_rule_move(
    *, rule: FirewallRule, position: int, confirm_lockout: bool = False, user: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
) -> Operation:
    """Move a rule so it ends up at `position` (0 is the top) in the portal's order."""
    server = rule.firewall.server
    index = _index(server, rule)

    def change(specs):
        moved = specs.pop(index)
        specs.insert(max(0, min(position, len(specs))), moved)
    return _edit(server, change, confirm_lockout=confirm_lockout, user=user, request=request)


def preset_rules(preset, *, source: str = "", source_set: AddressSet | None = None):
    """The rules of a preset; `source` or `source_set` is the office or the VPN."""
    if preset not in PRESETS:
        raise ValidationError({"preset": _("Choose one of the offered presets.")})
    if preset in NEEDS_SOURCE and not (source or source_set):
        raise ValidationError({"source": _("Enter the addresses of the office or VPN, or choose an address set.")})
    origin = {"source": source, "source_set": source_set}
    tcp = {"direction": "in", "action": Verdict.ACCEPT, "protocol": "tcp"}
    if preset == "ssh_office":
        return [dict(tcp, dest_port="22", comment="SSH (office)", **origin)]
    if preset == "rdp_vpn":
        return [dict(tcp, dest_port="3389", comment="RDP (VPN)", **origin)]
    return [
        dict(tcp, dest_port="80,443", comment="HTTP/HTTPS"),
        dict(tcp, dest_port="22", comment="SSH", **origin),
        {"direction": "in", "action": Verdict.ACCEPT, "protocol": "icmp", "comment": "Ping"},
    ]


def firewall_preset_apply(
    *, server: Server, preset: str, source: str = "", source_set: AddressSet | None = None,
    confirm_lockout: bool = False, user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
) -> Operation:
    """Replace the server's rules by a preset, switch the firewall on and drop everything else inbound."""
    rules = preset_rules(preset, source=source, source_set=source_set)
    op = firewall_set(server=server, rules=rules, enabled=True, policy_in=Verdict.DROP, policy_out=Verdict.ACCEPT,
                      confirm_lockout=confirm_lockout, user=user, request=request)
    audit_record(action="firewall.preset", tenant=server.tenant, request=request, actor=user, obj=server,
                 details={"preset": preset})
    return op


# --- the tenant's address sets and security groups ----------------------------------------------
def address_set_save(
    *, tenant, name: str, entries: Iterable[str], description: str = "", address_set: AddressSet | None = None,
    user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
) -> AddressSet:
    """Create or change a named address set; every server using it gets its firewall rewritten."""
    with transaction.atomic():
        ensure_active(tenant)
        if address_set is None:
            address_set = AddressSet(tenant=tenant)
        elif address_set.tenant_id != tenant.pk:
            raise ValidationError({"address_set": _("Choose an address set of your own tenant.")})
        address_set.name, address_set.description = name, description
        address_set.entries = [e.strip() for e in entries if e.strip()]
        address_set.full_clean(exclude=["tenant"])
        if AddressSet.objects.filter(tenant=tenant, name__iexact=name).exclude(pk=address_set.pk).exists():
            raise ValidationError({"name": _("An address set called %(name)s exists already.") % {"name": name}})
        address_set.save()
        for server in _servers_using(address_sets=[address_set]):
            _queue_apply(server, user)
        audit_record(action="address_set.save", tenant=tenant, request=request, actor=user, obj=address_set,
                     details={"entries": len(address_set.entries)})
        return address_set


def address_set_delete(
    *, address_set: AddressSet, user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
) -> None:
    with transaction.atomic():
        used = FirewallRule.objects.filter(Q(source_set=address_set) | Q(dest_set=address_set)).exists()
        if used:
            raise ValidationError(_("Rules still use this address set; change them first."))
        audit_record(action="address_set.delete", tenant=address_set.tenant, request=request, actor=user,
                     obj=address_set)
        address_set.delete()


def security_group_save(
    *, tenant, name: str, rules: Iterable[dict], description: str = "", group: SecurityGroup | None = None,
    confirm_lockout: bool = False, user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
) -> SecurityGroup:
    """Create or change a security group and its rules; every server it is applied to is rewritten."""
    with transaction.atomic():
        ensure_active(tenant)
        if group is None:
            group = SecurityGroup(tenant=tenant)
        elif group.tenant_id != tenant.pk:
            raise ValidationError({"group": _("Choose a security group of your own tenant.")})
        group.name, group.description = name, description
        group.full_clean(exclude=["tenant"])
        if SecurityGroup.objects.filter(tenant=tenant, name__iexact=name).exclude(pk=group.pk).exists():
            raise ValidationError({"name": _("A security group called %(name)s exists already.") % {"name": name}})
        group.save()
        new = _build(tenant, rules, owner={"security_group": group})
        if any(r.group is not None for r in new):
            raise ValidationError({"group": _("A security group cannot contain another security group.")})
        group.rules.all().delete()
        FirewallRule.objects.bulk_create(new)
        # The new rules count from here on (the transaction is undone if a server would be locked out).
        for server in _servers_using(groups=[group]):
            firewall = firewall_of(server)
            _check_lockout(firewall, list(firewall.rules.select_related("group")), confirm_lockout)
            _queue_apply(server, user)
        audit_record(action="security_group.save", tenant=tenant, request=request, actor=user, obj=group,
                     details={"rules": len(new)})
        return group


def security_group_delete(
    *, group: SecurityGroup, user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
) -> None:
    with transaction.atomic():
        if FirewallRule.objects.filter(group=group).exists():
            raise ValidationError(_("Servers still use this security group; remove it from them first."))
        audit_record(action="security_group.delete", tenant=group.tenant, request=request, actor=user, obj=group)
        group.delete()


def firewall_rewrite(
    *, drift: Drift, user: AbstractBaseUser | None = None, request: HttpRequest | None = None,
) -> Operation:
    """Staff answer firewall drift by writing the portal's rules over what was changed in Proxmox;
    the next reconcile that finds them equal resolves the drift."""
    with transaction.atomic():
        drift = Drift.objects.select_for_update(of=("self",)).select_related("server").get(pk=drift.pk)
        if drift.resolved_at is not None or drift.kind != Drift.Kind.FIREWALL or drift.server is None:
            raise ValidationError(_("Only open firewall drift of a server can be written over."))
        server = lock_server(drift.server)
        if server.status in GONE or not Firewall.objects.filter(server=server).exists():
            raise ValidationError(_("This server has no firewall in the portal any more."))
        op = _queue_apply(server, user)
        audit_record(action="firewall.rewrite", tenant=server.tenant, request=request, actor=user, obj=server,
                     details={"drift": drift.pk})
        return op
