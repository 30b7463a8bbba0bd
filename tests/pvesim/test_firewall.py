"""Firewall API with pve-firewall's semantics: rule order, moveto, digests, IP sets, groups."""

from urllib.parse import quote

import pytest
from proxmoxer import ResourceException

from tests.pvesim.helpers import clone_vm, wait_ok


@pytest.fixture
def fw(prox):
    clone_vm(prox, 100)
    return prox.nodes("pve").qemu(100).firewall


def _actions(fw):
    return [(r["pos"], r["comment"]) for r in fw.rules.get()]


def _four(fw):
    for name in ("D", "C", "B", "A"):
        fw.rules.post(type="in", action="ACCEPT", comment=name, enable=1)


def test_a_new_rule_goes_to_the_top_and_pos_is_ignored(fw):
    fw.rules.post(type="in", action="ACCEPT", proto="tcp", dport="22", comment="first", enable=1)
    fw.rules.post(type="in", action="DROP", comment="second", pos=5)
    fw.rules.post(type="out", action="REJECT", comment="third", pos=1)
    assert _actions(fw) == [(0, "third"), (1, "second"), (2, "first")]


def test_a_rule_created_without_enable_is_disabled(fw):
    fw.rules.post(type="in", action="ACCEPT", comment="on", enable=1)
    fw.rules.post(type="in", action="ACCEPT", comment="off")
    rules = fw.rules.get()
    assert [(r["comment"], r["enable"]) for r in rules] == [("off", 0), ("on", 1)]


def test_moving_a_rule_down_puts_it_before_the_rule_that_held_moveto(fw):
    _four(fw)
    fw.rules(0).put(moveto=2)
    assert [c for _, c in _actions(fw)] == ["B", "A", "C", "D"]


def test_moving_a_rule_up_lands_exactly_at_moveto(fw):
    _four(fw)
    fw.rules(3).put(moveto=1)
    assert [c for _, c in _actions(fw)] == ["A", "D", "B", "C"]


def test_moveto_past_the_end_appends_and_ignores_other_arguments(fw):
    _four(fw)
    fw.rules(1).put(moveto=99, comment="ignored")
    assert [c for _, c in _actions(fw)] == ["A", "C", "D", "B"]


def test_moveto_equal_to_pos_updates_the_rule_instead(fw):
    _four(fw)
    fw.rules(1).put(moveto=1, comment="B2")
    assert [c for _, c in _actions(fw)] == ["A", "B2", "C", "D"]


def test_update_and_delete_of_single_rules(fw):
    fw.rules.post(type="in", action="ACCEPT", proto="tcp", dport="80", comment="web", enable=1)
    rule = fw.rules(0).get()
    assert rule["pos"] == 0 and rule["dport"] == "80" and rule["digest"]
    fw.rules(0).put(dport="443", delete="comment")
    rule = fw.rules(0).get()
    assert rule["dport"] == "443" and "comment" not in rule
    fw.rules(0).delete()
    assert fw.rules.get() == []
    with pytest.raises(ResourceException) as exc:
        fw.rules(0).get()
    assert exc.value.status_code == 500 and "no rule at position 0" in str(exc.value)


def test_a_stale_digest_is_refused(fw):
    fw.rules.post(type="in", action="ACCEPT", comment="a")
    digest = fw.rules.get()[0]["digest"]
    fw.rules.post(type="in", action="DROP", comment="b")
    assert fw.rules.get()[0]["digest"] != digest
    for call in (lambda: fw.rules(0).put(comment="x", digest=digest), lambda: fw.rules(0).delete(digest=digest)):
        with pytest.raises(ResourceException) as exc:
            call()
        assert "detected modified configuration" in str(exc.value)
    fw.rules(0).delete(digest=fw.rules.get()[0]["digest"])
    assert _actions(fw) == [(0, "a")]


def test_rule_parameters_are_checked(fw):
    with pytest.raises(ResourceException) as exc:
        fw.rules.post(type="sideways", action="ACCEPT")
    assert exc.value.status_code == 400 and "type" in exc.value.errors
    with pytest.raises(ResourceException) as exc:
        fw.rules.post(type="in", action="ACCEPT", dport="22")
    assert exc.value.status_code == 400 and "proto" in exc.value.errors
    with pytest.raises(ResourceException) as exc:
        fw.rules.post(type="in", action="ACCEPT", proto="tcp", dport="70000")
    assert exc.value.status_code == 400
    with pytest.raises(ResourceException) as exc:
        fw.rules.post(type="in", action="ACCEPT", source="+nosuchset")
    assert exc.value.errors == {"source": "no such ipset 'nosuchset'"}
    assert fw.rules.get() == []


def test_options_default_off_and_are_written(fw):
    assert fw.options.get().get("enable", 0) == 0
    fw.options.put(enable=1, policy_in="DROP", policy_out="ACCEPT")
    options = fw.options.get()
    assert (options["enable"], options["policy_in"], options["policy_out"]) == (1, "DROP", "ACCEPT")
    with pytest.raises(ResourceException) as exc:
        fw.options.put(policy_in="MAYBE")
    assert exc.value.status_code == 400
    with pytest.raises(ResourceException):
        fw.options.put(enable=0, digest="0" * 40)
    assert fw.options.get()["enable"] == 1


def test_guest_ipset_entries_and_a_rule_referencing_it(fw):
    fw.ipset.post(name="office", comment="Office")
    fw.ipset("office").post(cidr="192.0.2.0/24")
    fw.ipset("office").post(cidr="198.51.100.7", comment="VPN")
    assert [s["name"] for s in fw.ipset.get()] == ["office"]
    assert [e["cidr"] for e in fw.ipset("office").get()] == ["198.51.100.7", "192.0.2.0/24"]
    assert fw.ipset("office")(quote("192.0.2.0/24", safe="")).get()["cidr"] == "192.0.2.0/24"
    with pytest.raises(ResourceException) as exc:
        fw.ipset("office").post(cidr="192.0.2.0/24")
    assert exc.value.errors == {"cidr": "address '192.0.2.0/24' already exists"}
    fw.rules.post(type="in", action="ACCEPT", proto="tcp", dport="22", source="+office", enable=1)
    assert fw.rules.get()[0]["source"] == "+office"
    with pytest.raises(ResourceException) as exc:
        fw.ipset("office").delete()
    assert "is not empty" in str(exc.value)
    fw.ipset("office")("192.0.2.0/24").delete()
    fw.ipset("office")("198.51.100.7").delete()
    fw.ipset("office").delete()
    assert fw.ipset.get() == []


def test_security_group_rules_and_a_guest_rule_of_type_group(prox, fw):
    groups = prox.cluster.firewall.groups
    groups.post(group="webserver", comment="Web")
    groups("webserver").post(type="in", action="ACCEPT", proto="tcp", dport="443", enable=1, comment="https")
    groups("webserver").post(type="in", action="ACCEPT", proto="tcp", dport="80", enable=1, comment="http")
    assert [r["comment"] for r in groups("webserver").get()] == ["http", "https"]
    groups("webserver")(1).put(moveto=0)
    assert [r["comment"] for r in groups("webserver").get()] == ["https", "http"]
    assert [g["group"] for g in groups.get()] == ["webserver"]
    with pytest.raises(ResourceException) as exc:
        groups.post(group="webserver")
    assert exc.value.status_code == 400

    fw.rules.post(type="group", action="webserver", enable=1)
    assert fw.rules.get()[0]["type"] == "group" and fw.rules.get()[0]["action"] == "webserver"
    with pytest.raises(ResourceException) as exc:
        fw.rules.post(type="group", action="nosuchgroup")
    assert "does not exist" in exc.value.errors["action"]
    with pytest.raises(ResourceException) as exc:
        groups("webserver").post(type="group", action="webserver")
    assert exc.value.status_code == 400

    with pytest.raises(ResourceException) as exc:
        groups("webserver").delete()
    assert "is not empty" in str(exc.value)
    groups("webserver")(0).delete()
    groups("webserver")(0).delete()
    groups("webserver").delete()
    assert groups.get() == []


def test_cluster_ipset_is_visible_to_guest_and_group_rules(prox, fw):
    prox.cluster.firewall.ipset.post(name="vpn")
    prox.cluster.firewall.ipset("vpn").post(cidr="10.8.0.0/16")
    fw.rules.post(type="in", action="ACCEPT", proto="tcp", dport="3389", source="+dc/vpn")
    prox.cluster.firewall.groups.post(group="rdp")
    prox.cluster.firewall.groups("rdp").post(type="in", action="ACCEPT", proto="tcp", dport="3389", source="+vpn")
    with pytest.raises(ResourceException):
        prox.cluster.firewall.groups("rdp").post(type="in", action="ACCEPT", source="+guest/vpn")


def test_an_unknown_guest_has_no_firewall(prox):
    with pytest.raises(ResourceException) as exc:
        prox.nodes("pve").qemu(4242).firewall.rules.get()
    assert exc.value.status_code == 500


def test_a_clone_takes_the_firewall_with_it(prox, fw):
    fw.rules.post(type="in", action="ACCEPT", proto="tcp", dport="22", enable=1)
    fw.ipset.post(name="office")
    fw.options.put(enable=1)
    wait_ok(prox, prox.nodes("pve").qemu(100).clone.post(newid=101, name="copy", full=1, storage="local-lvm"))
    copy = prox.nodes("pve").qemu(101).firewall
    assert [r["dport"] for r in copy.rules.get()] == ["22"]
    assert [s["name"] for s in copy.ipset.get()] == ["office"] and copy.options.get()["enable"] == 1
    copy.rules(0).delete()
    assert len(fw.rules.get()) == 1
