"""Firewall: per-guest rules, options and IP sets, cluster IP sets and security groups.

Rule lists behave like pve-firewall's ``RulesBase``: a new rule goes to the top and ``pos``
is ignored on create, a rule created without ``enable`` is stored disabled, ``moveto`` takes
the rule out and puts it before the rule that held ``moveto`` in the old list (or at the end),
and every list carries one digest that PUT and DELETE may assert.
"""

import hashlib
import ipaddress
import re

from .errors import die, param_error
from .guestcommon import both, get_guest
from .router import GREEDY_LAST, route

RULE_KEYS = ("type", "action", "enable", "macro", "proto", "source", "dest", "sport", "dport", "iface", "log",
             "comment", "icmp-type")
OPTION_KEYS = ("enable", "policy_in", "policy_out", "dhcp", "ipfilter", "macfilter", "ndp", "radv",
               "log_level_in", "log_level_out")
INT_KEYS = {"enable", "dhcp", "ipfilter", "macfilter", "ndp", "radv"}
VERDICTS = ("ACCEPT", "DROP", "REJECT")
PORT_PROTOCOLS = {"tcp", "udp", "sctp", "udplite", "dccp", "6", "17", "132", "136", "33"}
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9\-_]+$")
IPSET_REF = re.compile(r"^\+(?:(dc|guest)/)?([A-Za-z][A-Za-z0-9\-_]+)$")
# an entry's cidr keeps its slash in the path (pve-firewall registers it with no fragment delimiter)
GREEDY_LAST.update({"/nodes/{node}/qemu/{vmid}/firewall/ipset/{name}/{cidr}",
                    "/nodes/{node}/lxc/{vmid}/firewall/ipset/{name}/{cidr}",
                    "/cluster/firewall/ipset/{name}/{cidr}"})
MODIFIED = "detected modified configuration - file changed by other user? Try again."


def list_digest(entries):
    """One SHA-1 over every entry's sorted key/value lines, like ``copy_list_with_digest``."""
    sha = hashlib.sha1()
    for entry in entries:
        for k in sorted(entry):
            if entry[k] is not None:
                sha.update(f"{k}:{entry[k]}\n".encode())
    return sha.hexdigest()


def with_digest(entries):
    digest = list_digest(entries)
    return [dict(e, digest=digest) for e in entries], digest


def assert_digest(req, entries):
    if req.p("digest") and req.p("digest") != list_digest(entries):
        raise die(MODIFIED)


# -- rule checks (a subset of PVE::Firewall::verify_rule) -----------------------------------
def _ports_ok(text):
    for part in str(text).split(","):
        bounds = part.split(":")
        if len(bounds) > 2 or not all(b.isdigit() and 0 < int(b) < 65536 for b in bounds):
            return False
        if len(bounds) == 2 and int(bounds[0]) > int(bounds[1]):
            return False
    return True


def _address_error(value, ipsets):
    ref = IPSET_REF.match(value)
    if ref:
        scope, name = ref.groups()
        if name not in ipsets.get(scope or "any", ()):
            return f"no such ipset '{name}'"
        return None
    for part in value.split(","):
        try:
            if "-" in part:
                low, high = (ipaddress.ip_address(x) for x in part.split("-", 1))
                if low.version != high.version or low > high:
                    return f"invalid address range '{part}'"
            else:
                ipaddress.ip_network(part, strict=False)
        except ValueError:
            return f"invalid IP address: {part}"
    return None


def verify_rule(rule, groups, ipsets, in_group=False):
    errors = {}
    kind, action = rule.get("type"), rule.get("action")
    if kind == "group":
        if in_group:
            errors["type"] = "security groups inside security groups are not allowed"
        elif action not in groups:
            errors["action"] = f"security group '{action}' does not exist"
    elif action not in VERDICTS and not rule.get("macro"):
        errors["action"] = f"value '{action}' does not have a value in the enumeration 'ACCEPT, DROP, REJECT'"
    proto = rule.get("proto")
    for key in ("dport", "sport"):
        if rule.get(key):
            if not proto:
                errors["proto"] = f"missing property - '{key}' requires this property"
            elif proto not in PORT_PROTOCOLS:
                errors[key] = f"protocol '{proto}' does not support ports"
            elif not _ports_ok(rule[key]):
                errors[key] = f"invalid port '{rule[key]}'"
    for key in ("source", "dest"):
        if rule.get(key):
            err = _address_error(rule[key], ipsets)
            if err:
                errors[key] = err
    if errors:
        raise param_error(errors)


# -- generic rule list handlers -------------------------------------------------------------
def rules_get(rules):
    listed, _ = with_digest(rules)
    return [dict(r, pos=i) for i, r in enumerate(listed)]


def rule_at(rules, pos):
    pos = int(pos)
    if pos >= len(rules):
        raise die(f"no rule at position {pos}")
    return pos


def rule_values(req):
    rule = {k: req.p(k) for k in RULE_KEYS if req.p(k) is not None}
    if "enable" in rule:
        rule["enable"] = int(rule["enable"])
    return rule


def rule_create(req, rules, groups, ipsets, in_group=False):
    rule = rule_values(req)
    verify_rule(rule, groups, ipsets, in_group)
    rule.setdefault("enable", 0)
    rules.insert(0, rule)


def rule_update(req, rules, groups, ipsets, in_group=False):
    assert_digest(req, rules)
    pos = rule_at(rules, req.p("pos"))
    rule = rules[pos]
    moveto = req.p("moveto")
    if moveto is not None and int(moveto) != pos:
        moveto = int(moveto)
        moved = []
        for i, other in enumerate(rules):
            if i == pos:
                continue
            if i == moveto:
                moved.append(rule)
            moved.append(other)
        if moveto >= len(rules):
            moved.append(rule)
        rules[:] = moved
        return
    changed = dict(rule, **rule_values(req))
    for key in str(req.p("delete") or "").replace(";", ",").split(","):
        changed.pop(key.strip(), None)
    verify_rule(changed, groups, ipsets, in_group)
    rule.clear()
    rule.update(changed)


def rule_delete(req, rules):
    assert_digest(req, rules)
    rules.pop(rule_at(rules, req.p("pos")))


def _cluster_ipsets(st):
    names = set(st.fw_ipsets)
    return {"dc": names, "any": names}


def _guest_ipsets(st, guest):
    own, dc = set(guest.fw_ipsets), set(st.fw_ipsets)
    return {"dc": dc, "guest": own, "any": own | dc}


# -- guest rules and options ----------------------------------------------------------------
@both("GET", "/{vmid}/firewall")
def fw_index(req):
    return [{"name": n} for n in ("rules", "aliases", "ipset", "options", "log", "refs")]


@both("GET", "/{vmid}/firewall/rules")
def fw_rules(req):
    with req.state.lock:
        return rules_get(get_guest(req).fw_rules)


@both("POST", "/{vmid}/firewall/rules")
def fw_rule_add(req):
    st = req.state
    with st.lock:
        guest = get_guest(req)
        rule_create(req, guest.fw_rules, st.fw_groups, _guest_ipsets(st, guest))
    return None


@both("GET", "/{vmid}/firewall/rules/{pos}")
def fw_rule_get(req):
    with req.state.lock:
        guest = get_guest(req)
        pos = rule_at(guest.fw_rules, req.p("pos"))
        return rules_get(guest.fw_rules)[pos]


@both("PUT", "/{vmid}/firewall/rules/{pos}")
def fw_rule_put(req):
    st = req.state
    with st.lock:
        guest = get_guest(req)
        rule_update(req, guest.fw_rules, st.fw_groups, _guest_ipsets(st, guest))
    return None


@both("DELETE", "/{vmid}/firewall/rules/{pos}")
def fw_rule_delete(req):
    with req.state.lock:
        rule_delete(req, get_guest(req).fw_rules)
    return None


def _options_digest(options):
    return list_digest([options])


@both("GET", "/{vmid}/firewall/options")
def fw_options(req):
    with req.state.lock:
        options = dict(get_guest(req).fw_options)
        return dict(options, digest=_options_digest(options))


@both("PUT", "/{vmid}/firewall/options")
def fw_options_put(req):
    with req.state.lock:
        guest = get_guest(req)
        if req.p("digest") and req.p("digest") != _options_digest(guest.fw_options):
            raise die(MODIFIED)
        for k in OPTION_KEYS:
            v = req.p(k)
            if v is not None:
                guest.fw_options[k] = int(v) if k in INT_KEYS else v
        for k in str(req.p("delete") or "").replace(";", ",").split(","):
            guest.fw_options.pop(k.strip(), None)
    return None


# -- IP sets (a guest's and the cluster's share the handlers) -------------------------------
def _valid_cidr(value):
    try:
        return str(ipaddress.ip_network(value, strict=False)) if "/" in value else str(ipaddress.ip_address(value))
    except ValueError:
        return None


def ipset_list_plain(ipsets):
    return [{"name": n, **({"comment": s["comment"]} if s.get("comment") else {})} for n, s in sorted(ipsets.items())]


def ipset_list(ipsets):
    listed, _ = with_digest(ipset_list_plain(ipsets))
    return listed


def ipset_create(req, ipsets):
    name, rename = req.p("name"), req.p("rename")
    if rename:
        assert_digest(req, ipset_list_plain(ipsets))
        if rename not in ipsets:
            raise param_error({"name": f"IPSet '{rename}' does not exists"})
        if name in ipsets and name != rename:
            raise param_error({"name": f"IPSet '{name}' does already exist"})
        ipsets[name] = ipsets.pop(rename)
        if req.p("comment") is not None:
            ipsets[name]["comment"] = req.p("comment")
        return
    if name in ipsets:
        raise param_error({"name": f"IPSet '{name}' already exists"})
    ipsets[name] = {"comment": req.p("comment") or "", "entries": []}


def _ipset(ipsets, name):
    if name not in ipsets:
        raise die(f"no such IPSet '{name}'")
    return ipsets[name]


def ipset_entries(ipsets, name):
    listed, _ = with_digest(_ipset(ipsets, name)["entries"])
    return listed


def ipset_delete(req, ipsets):
    name = req.p("name")
    if _ipset(ipsets, name)["entries"] and str(req.p("force", "0")) != "1":
        raise die(f"IPSet '{name}' is not empty")
    del ipsets[name]


def ipset_add(req, ipsets):
    ipset = _ipset(ipsets, req.p("name"))
    cidr = str(req.p("cidr"))
    if _valid_cidr(cidr) is None:
        raise param_error({"cidr": f"invalid format - value does not look like a valid IP address or CIDR "
                                   f"network: {cidr}"})
    if any(e["cidr"] == cidr for e in ipset["entries"]):
        raise param_error({"cidr": f"address '{cidr}' already exists"})
    if re.search(r"/0+$", cidr):
        raise param_error({"cidr": "a zero prefix is not allowed in ipset entries"})
    entry = {"cidr": cidr}
    if str(req.p("nomatch", "0")) == "1":
        entry["nomatch"] = 1
    if req.p("comment"):
        entry["comment"] = req.p("comment")
    ipset["entries"].insert(0, entry)


def _entry(ipsets, name, cidr):
    ipset = _ipset(ipsets, name)
    for entry in ipset["entries"]:
        if entry["cidr"] == str(cidr):
            return ipset, entry
    raise param_error({"cidr": "no such IP/Network"})


def ipset_entry_get(req, ipsets):
    ipset, entry = _entry(ipsets, req.p("name"), req.p("cidr"))
    return dict(entry, digest=list_digest(ipset["entries"]))


def ipset_entry_put(req, ipsets):
    ipset = _ipset(ipsets, req.p("name"))
    assert_digest(req, ipset["entries"])
    _, entry = _entry(ipsets, req.p("name"), req.p("cidr"))
    # like Proxmox, an update replaces both settings: what is not sent is cleared
    entry.pop("nomatch", None)
    entry.pop("comment", None)
    if str(req.p("nomatch", "0")) == "1":
        entry["nomatch"] = 1
    if req.p("comment"):
        entry["comment"] = req.p("comment")


def ipset_entry_delete(req, ipsets):
    ipset = _ipset(ipsets, req.p("name"))
    assert_digest(req, ipset["entries"])
    ipset["entries"][:] = [e for e in ipset["entries"] if e["cidr"] != str(req.p("cidr"))]


@both("GET", "/{vmid}/firewall/ipset")
def fw_ipsets(req):
    with req.state.lock:
        return ipset_list(get_guest(req).fw_ipsets)


@both("POST", "/{vmid}/firewall/ipset")
def fw_ipset_create(req):
    with req.state.lock:
        ipset_create(req, get_guest(req).fw_ipsets)
    return None


@both("GET", "/{vmid}/firewall/ipset/{name}")
def fw_ipset_get(req):
    with req.state.lock:
        return ipset_entries(get_guest(req).fw_ipsets, req.p("name"))


@both("POST", "/{vmid}/firewall/ipset/{name}")
def fw_ipset_add(req):
    with req.state.lock:
        ipset_add(req, get_guest(req).fw_ipsets)
    return None


@both("DELETE", "/{vmid}/firewall/ipset/{name}")
def fw_ipset_delete(req):
    with req.state.lock:
        ipset_delete(req, get_guest(req).fw_ipsets)
    return None


@both("GET", "/{vmid}/firewall/ipset/{name}/{cidr}")
def fw_ipset_entry(req):
    with req.state.lock:
        return ipset_entry_get(req, get_guest(req).fw_ipsets)


@both("PUT", "/{vmid}/firewall/ipset/{name}/{cidr}")
def fw_ipset_entry_put(req):
    with req.state.lock:
        ipset_entry_put(req, get_guest(req).fw_ipsets)
    return None


@both("DELETE", "/{vmid}/firewall/ipset/{name}/{cidr}")
def fw_ipset_entry_delete(req):
    with req.state.lock:
        ipset_entry_delete(req, get_guest(req).fw_ipsets)
    return None


@route("GET", "/cluster/firewall/ipset")
def dc_ipsets(req):
    with req.state.lock:
        return ipset_list(req.state.fw_ipsets)


@route("POST", "/cluster/firewall/ipset")
def dc_ipset_create(req):
    with req.state.lock:
        ipset_create(req, req.state.fw_ipsets)
    return None


@route("GET", "/cluster/firewall/ipset/{name}")
def dc_ipset_get(req):
    with req.state.lock:
        return ipset_entries(req.state.fw_ipsets, req.p("name"))


@route("POST", "/cluster/firewall/ipset/{name}")
def dc_ipset_add(req):
    with req.state.lock:
        ipset_add(req, req.state.fw_ipsets)
    return None


@route("DELETE", "/cluster/firewall/ipset/{name}")
def dc_ipset_delete(req):
    with req.state.lock:
        ipset_delete(req, req.state.fw_ipsets)
    return None


@route("GET", "/cluster/firewall/ipset/{name}/{cidr}")
def dc_ipset_entry(req):
    with req.state.lock:
        return ipset_entry_get(req, req.state.fw_ipsets)


@route("PUT", "/cluster/firewall/ipset/{name}/{cidr}")
def dc_ipset_entry_put(req):
    with req.state.lock:
        ipset_entry_put(req, req.state.fw_ipsets)
    return None


@route("DELETE", "/cluster/firewall/ipset/{name}/{cidr}")
def dc_ipset_entry_delete(req):
    with req.state.lock:
        ipset_entry_delete(req, req.state.fw_ipsets)
    return None


# -- cluster security groups ----------------------------------------------------------------
def _group(st, name):
    group = st.fw_groups.get(name)
    if group is None:
        raise die(f"no such security group '{name}'")
    return group


@route("GET", "/cluster/firewall/groups")
def groups_list(req):
    with req.state.lock:
        entries = [{"group": n, **({"comment": g["comment"]} if g.get("comment") else {})}
                   for n, g in sorted(req.state.fw_groups.items())]
        listed, _ = with_digest(entries)
        return listed


@route("POST", "/cluster/firewall/groups")
def groups_create(req):
    st = req.state
    name, rename = req.p("group"), req.p("rename")
    for candidate in (name, rename):
        if candidate is not None and (not NAME_RE.match(candidate) or len(candidate) > 18):
            raise param_error({"group": f"invalid format - value does not match the regex pattern "
                                        f"'{NAME_RE.pattern}'"})
    with st.lock:
        if rename:
            _group(st, rename)
            if name in st.fw_groups and name != rename:
                raise param_error({"group": f"Security group '{name}' already exists"})
            st.fw_groups[name] = st.fw_groups.pop(rename)
            if req.p("comment") is not None:
                st.fw_groups[name]["comment"] = req.p("comment")
            return None
        if name in st.fw_groups:
            raise param_error({"group": f"Security group '{name}' already exists"})
        st.fw_groups[name] = {"comment": req.p("comment") or "", "rules": []}
    return None


@route("DELETE", "/cluster/firewall/groups/{group}")
def groups_delete(req):
    st = req.state
    with st.lock:
        name = req.p("group")
        if _group(st, name)["rules"]:
            raise die(f"Security group '{name}' is not empty")
        del st.fw_groups[name]
    return None


@route("GET", "/cluster/firewall/groups/{group}")
def group_rules(req):
    with req.state.lock:
        return rules_get(_group(req.state, req.p("group"))["rules"])


@route("POST", "/cluster/firewall/groups/{group}")
def group_rule_add(req):
    st = req.state
    with st.lock:
        rule_create(req, _group(st, req.p("group"))["rules"], st.fw_groups, _cluster_ipsets(st), in_group=True)
    return None


@route("GET", "/cluster/firewall/groups/{group}/{pos}")
def group_rule_get(req):
    with req.state.lock:
        rules = _group(req.state, req.p("group"))["rules"]
        return rules_get(rules)[rule_at(rules, req.p("pos"))]


@route("PUT", "/cluster/firewall/groups/{group}/{pos}")
def group_rule_put(req):
    st = req.state
    with st.lock:
        rule_update(req, _group(st, req.p("group"))["rules"], st.fw_groups, _cluster_ipsets(st), in_group=True)
    return None


@route("DELETE", "/cluster/firewall/groups/{group}/{pos}")
def group_rule_delete(req):
    with req.state.lock:
        rule_delete(req, _group(req.state, req.p("group"))["rules"])
    return None
