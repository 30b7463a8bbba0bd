"""Firewall: the portal's rule order, address sets and security groups written to Proxmox.

Proxmox inserts every new rule at the top and ignores `pos` on create, so a list that differs
from the portal's is deleted and re-inserted bottom-up: the result is the portal's order, the
same every time. Each step compares first, so a rerun after a crash writes nothing twice.
Security groups and the IP sets their rules use live on the cluster; a server's own address
sets become the guest's IP sets.
"""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from provisioning.models import AddressSet, Firewall, FirewallRule, Operation, SecurityGroup

from . import guests
from .base import Recipe, register, sync
from .guests import node_name

LABELS = {
    "firewall_sets": _("Writing address sets"),
    "firewall_groups": _("Writing security groups"),
    "firewall_rules": _("Writing firewall rules"),
    "firewall_nic": _("Connecting the network card to the firewall"),
    "firewall_options": _("Switching the firewall"),
}
# The keys the portal writes; what Proxmox adds on reading (pos, digest, ipversion) is left out.
RULE_KEYS = ("type", "action", "enable", "proto", "dport", "source", "dest", "comment")
PORTAL_IPSET = "as-"


def pve_rule(rule, scope):
    """One FirewallRule as Proxmox's rule parameters; address sets as +guest/ or +dc/ IP sets."""
    if rule.group_id:
        return {"type": "group", "action": rule.group.pve_name, "enable": int(rule.enabled)}
    out = {"type": rule.direction, "action": rule.action, "enable": int(rule.enabled)}
    if rule.protocol:
        out["proto"] = rule.protocol
    if rule.dest_port:
        out["dport"] = rule.dest_port
    for key, text, address_set in (("source", rule.source, rule.source_set), ("dest", rule.dest, rule.dest_set)):
        if address_set is not None:
            out[key] = f"+{scope}/{address_set.pve_name}"
        elif text:
            out[key] = text
    if rule.comment:
        out["comment"] = rule.comment
    return out


def as_written(listing):
    """Proxmox's rule listing reduced to what the portal writes, for comparing."""
    out = []
    for entry in listing:
        rule = {k: entry[k] for k in RULE_KEYS if entry.get(k) not in (None, "")}
        rule["enable"] = int(rule.get("enable", 0))
        out.append(rule)
    return out


def _rules(queryset):
    return list(queryset.select_related("group", "source_set", "dest_set").order_by("position", "id"))


def desired_rules(firewall):
    return [pve_rule(r, "guest") for r in _rules(firewall.rules.all())]


def _firewall(ctx):
    return Firewall.objects.get(server=ctx.server)


def _guest(ctx):
    s = ctx.server
    return {"node": node_name(ctx), "kind": s.kind, "vmid": s.vmid}


def _sets(rules):
    found = {}
    for rule in rules:
        for address_set in (rule.source_set, rule.dest_set):
            if address_set is not None:
                found[address_set.pk] = address_set
    return list(found.values())


def _sync_ipsets(pve, address_sets, where, drop_others=False):
    present = {s["name"] for s in pve.ipsets(**where)}
    for address_set in address_sets:
        name = address_set.pve_name
        if name not in present:
            pve.ipset_create(name=name, comment=address_set.name, **where)
            current = set()
        else:
            current = {e["cidr"] for e in pve.ipset_entries(name=name, **where)}
        wanted = set(address_set.entries)
        for cidr in sorted(wanted - current):
            pve.ipset_add(name=name, cidr=cidr, **where)
        for cidr in sorted(current - wanted):
            pve.ipset_remove(name=name, cidr=cidr, **where)
    if drop_others:
        keep = {a.pve_name for a in address_sets}
        for name in sorted(present - keep):
            if name.startswith(PORTAL_IPSET):
                pve.ipset_delete(name=name, **where)


def _write_rules(pve, wanted, **where):
    """Make Proxmox's list exactly `wanted`: nothing if it already is, else delete all, insert bottom-up."""
    if as_written(pve.firewall_rules(**where)) == wanted:
        return
    for pos in reversed(range(len(pve.firewall_rules(**where)))):
        pve.firewall_rule_delete(pos=pos, **where)
    for rule in reversed(wanted):
        pve.firewall_rule_insert_top(rule=rule, **where)


def write_sets(ctx):
    fw = _firewall(ctx)
    _sync_ipsets(ctx.pve, _sets(_rules(fw.rules.all())), _guest(ctx))


def write_groups(ctx):
    fw = _firewall(ctx)
    groups = {r.group.pk: r.group for r in _rules(fw.rules.filter(group__isnull=False))}
    for group in groups.values():
        # Servers of the tenant share the group and its IP sets on the cluster: one writer at a time.
        with transaction.atomic():
            SecurityGroup.objects.select_for_update().get(pk=group.pk)
            rules = _rules(FirewallRule.objects.filter(security_group=group))
            sets = _sets(rules)
            list(AddressSet.objects.select_for_update().filter(pk__in=[a.pk for a in sets]).order_by("pk"))
            _sync_ipsets(ctx.pve, sets, {})
            if group.pve_name not in {g["group"] for g in ctx.pve.security_groups()}:
                ctx.pve.security_group_create(group=group.pve_name, comment=f"{group.tenant.slug}: {group.name}"[:100])
            _write_rules(ctx.pve, [pve_rule(r, "dc") for r in rules], group=group.pve_name)


def write_rules(ctx):
    fw = _firewall(ctx)
    wanted = desired_rules(fw)
    _write_rules(ctx.pve, wanted, **_guest(ctx))
    # Address sets no rule uses any more go only after no rule points at them.
    _sync_ipsets(ctx.pve, _sets(_rules(fw.rules.all())), _guest(ctx), drop_others=True)
    fw.applied_rules = wanted
    fw.applied_at = timezone.now()
    fw.save(update_fields=["applied_rules", "applied_at"])


def nic_with_firewall(value):
    """net0 with firewall=1: Proxmox filters a guest's traffic only on network cards that say so."""
    parts = [p for p in str(value).split(",") if p and not p.startswith("firewall=")]
    return ",".join([*parts, "firewall=1"])


def connect_nic(ctx):
    if not _firewall(ctx).enabled:
        return
    s = ctx.server
    net0 = ctx.pve.guest_config(node=node_name(ctx), kind=s.kind, vmid=s.vmid).get("net0")
    if net0 and "firewall=1" not in net0.split(","):
        guests.configure(ctx, net0=nic_with_firewall(net0))


def write_options(ctx):
    fw = _firewall(ctx)
    current = ctx.pve.firewall_options(**_guest(ctx))
    wanted = {"enable": int(fw.enabled), "policy_in": fw.policy_in, "policy_out": fw.policy_out}
    if {k: current.get(k) for k in wanted} != wanted:
        ctx.pve.firewall_options_set(**_guest(ctx), **wanted)


STEPS = [sync("firewall_sets", write_sets), sync("firewall_groups", write_groups),
         sync("firewall_rules", write_rules), sync("firewall_nic", connect_nic), sync("firewall_options", write_options)]



def steps_for(server):
    """The firewall's steps for a guest built again (reinstall), if the portal keeps one for it."""
    return STEPS if Firewall.objects.filter(server=server).exists() else []


register(Recipe(Operation.Kind.FIREWALL, lambda op: STEPS, labels=LABELS))
