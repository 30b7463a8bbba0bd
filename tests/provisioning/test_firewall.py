"""Firewall per server through pvesim with a real worker: order, presets, groups, sets, drift, bad input."""

import pytest
from django.core.exceptions import ValidationError

from provisioning import actions
from provisioning.models import AddressSet, Drift, FirewallRule, Operation, SecurityGroup
from provisioning.proxmox import PVE
from provisioning.reconcile import reconcile_cluster

from .conftest import wait_done

SSH = {"direction": "in", "action": "ACCEPT", "protocol": "tcp", "dest_port": "22"}


def built(tenant, image, hostname="web-01"):
    server = actions.server_create(tenant=tenant, image=image, hostname=hostname, cores=1, memory_mb=1024, disk_gb=10,
                                   password="long-enough")
    op = wait_done(server.operations.get())
    assert op.state == Operation.State.SUCCEEDED, op.error
    server.refresh_from_db()
    return server


def ok(op):
    wait_done(op)
    assert op.state == Operation.State.SUCCEEDED, op.error
    return op


def rules_in_proxmox(server):
    return PVE(server.cluster).firewall_rules(node=server.node.name, kind=server.kind, vmid=server.vmid)


def options_in_proxmox(server):
    return PVE(server.cluster).firewall_options(node=server.node.name, kind=server.kind, vmid=server.vmid)


@pytest.fixture
def server(tenant_a, ct_image, worker):
    return built(tenant_a, ct_image)


@pytest.mark.parametrize("image", ["ct_image", "vm_image"])
def test_a_preset_is_read_back_from_proxmox_in_the_portals_order(tenant_a, worker, alice, request, image):
    server = built(tenant_a, request.getfixturevalue(image))
    ok(actions.firewall_preset_apply(server=server, preset="web", source="198.51.100.0/24", user=alice))
    rules = rules_in_proxmox(server)
    assert [(r["pos"], r.get("dport"), r.get("source")) for r in rules] == [
        (0, "80,443", None), (1, "22", "198.51.100.0/24"), (2, None, None)]
    assert all(r["enable"] == 1 and r["type"] == "in" and r["action"] == "ACCEPT" for r in rules)
    options = options_in_proxmox(server)
    assert (options["enable"], options["policy_in"], options["policy_out"]) == (1, "DROP", "ACCEPT")
    config = PVE(server.cluster).guest_config(node=server.node.name, kind=server.kind, vmid=server.vmid)
    assert "firewall=1" in config["net0"].split(","), "Proxmox filters only network cards marked for it"


def test_a_reinstall_writes_the_firewall_again(server, ct_image):
    ok(actions.firewall_preset_apply(server=server, preset="ssh_office", source="203.0.113.0/24"))
    ok(actions.server_reinstall(server=server, image=ct_image, password="long-enough-2"))
    server.refresh_from_db()
    assert [(r["dport"], r["source"]) for r in rules_in_proxmox(server)] == [("22", "203.0.113.0/24")]
    assert options_in_proxmox(server)["enable"] == 1


def test_moving_and_deleting_rules_rewrite_proxmox_in_the_new_order(server):
    ok(actions.firewall_set(server=server, enabled=True, rules=[
        dict(SSH, comment="ssh"), {"direction": "in", "action": "ACCEPT", "protocol": "tcp", "dest_port": "443",
                                   "comment": "https"},
        {"direction": "in", "action": "DROP", "protocol": "udp", "dest_port": "53", "comment": "dns"}]))
    last = FirewallRule.objects.get(comment="dns")
    ok(actions.firewall_rule_move(rule=last, position=0))
    assert [r["comment"] for r in rules_in_proxmox(server)] == ["dns", "ssh", "https"]
    ok(actions.firewall_rule_delete(rule=FirewallRule.objects.get(comment="ssh"), confirm_lockout=True))
    assert [r["comment"] for r in rules_in_proxmox(server)] == ["dns", "https"]
    ok(actions.firewall_rule_add(server=server, rule=dict(SSH, comment="ssh again"), position=1))
    assert [r["comment"] for r in rules_in_proxmox(server)] == ["dns", "ssh again", "https"]
    assert list(server.firewall.rules.values_list("comment", flat=True)) == ["dns", "ssh again", "https"]


def test_a_security_group_on_two_servers(tenant_a, ct_image, worker):
    one, two = built(tenant_a, ct_image, "web-01"), built(tenant_a, ct_image, "web-02")
    office = actions.address_set_save(tenant=tenant_a, name="office", entries=["203.0.113.0/24"])
    group = actions.security_group_save(tenant=tenant_a, name="web", rules=[
        {"direction": "in", "action": "ACCEPT", "protocol": "tcp", "dest_port": "443"},
        dict(SSH, source_set=office)])
    for server in (one, two):
        ok(actions.firewall_set(server=server, enabled=True, rules=[{"group": group}]))
        assert [(r["type"], r["action"]) for r in rules_in_proxmox(server)] == [("group", group.pve_name)]
    pve = PVE(one.cluster)
    assert [(r.get("dport"), r.get("source")) for r in pve.firewall_rules(group=group.pve_name)] == [
        ("443", None), ("22", f"+dc/{office.pve_name}")]
    assert [e["cidr"] for e in pve.ipset_entries(name=office.pve_name)] == ["203.0.113.0/24"]

    actions.security_group_save(tenant=tenant_a, name="web", group=group, rules=[
        {"direction": "in", "action": "ACCEPT", "protocol": "tcp", "dest_port": "80,443"}, dict(SSH, source_set=office)])
    queued = Operation.objects.filter(kind=Operation.Kind.FIREWALL, state__in=Operation.ACTIVE_STATES)
    assert {op.server_id for op in queued} == {one.pk, two.pk}
    for op in list(queued):
        ok(op)
    assert pve.firewall_rules(group=group.pve_name)[0]["dport"] == "80,443"


def test_an_address_set_becomes_the_guests_ip_set_and_follows_changes(tenant_a, server):
    office = actions.address_set_save(tenant=tenant_a, name="office", entries=["192.0.2.7", "198.51.100.0/24"])
    ok(actions.firewall_set(server=server, enabled=True, rules=[dict(SSH, source_set=office)]))
    pve = PVE(server.cluster)
    where = {"node": server.node.name, "kind": server.kind, "vmid": server.vmid}
    assert rules_in_proxmox(server)[0]["source"] == f"+guest/{office.pve_name}"
    assert sorted(e["cidr"] for e in pve.ipset_entries(name=office.pve_name, **where)) == ["192.0.2.7", "198.51.100.0/24"]
    actions.address_set_save(tenant=tenant_a, name="office", address_set=office, entries=["192.0.2.8"])
    ok(Operation.objects.filter(server=server, kind=Operation.Kind.FIREWALL).first())
    assert [e["cidr"] for e in pve.ipset_entries(name=office.pve_name, **where)] == ["192.0.2.8"]
    with pytest.raises(ValidationError):
        actions.address_set_delete(address_set=office)


def test_changes_made_in_proxmox_are_drift_for_staff_until_the_portal_writes_again(server, cluster):
    ok(actions.firewall_preset_apply(server=server, preset="ssh_office", source="203.0.113.0/24"))
    reconcile_cluster(cluster)
    assert not Drift.objects.filter(kind=Drift.Kind.FIREWALL).exists()
    PVE(cluster).firewall_rule_insert_top(rule={"type": "in", "action": "ACCEPT", "enable": 1},
                                          node=server.node.name, kind=server.kind, vmid=server.vmid)
    assert reconcile_cluster(cluster)["firewall_drift"] == 1
    drift = Drift.objects.get(kind=Drift.Kind.FIREWALL, resolved_at__isnull=True)
    assert drift.server == server and len(drift.details["found"]) == 2
    reconcile_cluster(cluster)
    assert Drift.objects.filter(kind=Drift.Kind.FIREWALL).count() == 1
    ok(actions.firewall_set(server=server, enabled=True, rules=[dict(SSH, source="203.0.113.0/24")]))
    reconcile_cluster(cluster)
    drift.refresh_from_db()
    assert drift.resolution == Drift.Resolution.GONE


def test_staff_write_the_portals_rules_over_changes_in_proxmox(server, cluster, dora):
    from django.test import Client
    from django.urls import reverse

    ok(actions.firewall_preset_apply(server=server, preset="ssh_office", source="203.0.113.0/24"))
    where = {"node": server.node.name, "kind": server.kind, "vmid": server.vmid}
    PVE(cluster).firewall_rule_delete(pos=0, **where)
    reconcile_cluster(cluster)
    drift = Drift.objects.get(kind=Drift.Kind.FIREWALL, resolved_at__isnull=True)
    staff = Client()
    staff.force_login(dora)
    assert staff.post(reverse("staff:drift_firewall", args=[drift.pk])).status_code == 302
    ok(Operation.objects.filter(server=server, kind=Operation.Kind.FIREWALL).first())
    assert [r["dport"] for r in rules_in_proxmox(server)] == ["22"]
    reconcile_cluster(cluster)
    drift.refresh_from_db()
    assert drift.resolution == Drift.Resolution.GONE
    with pytest.raises(ValidationError):
        actions.firewall_rewrite(drift=drift, user=dora)


@pytest.mark.parametrize("rule, field, message", [
    (dict(SSH, dest_port="70000"), "dest_port", "between 1 and 65535"),
    (dict(SSH, dest_port="ssh"), "dest_port", "as numbers"),
    (dict(SSH, dest_port="9000-8000"), "dest_port", "lower port"),
    (dict(SSH, dest_port="8000-8080,8080"), "dest_port", "overlap"),
    ({"direction": "in", "action": "ACCEPT", "dest_port": "22"}, "protocol", "TCP or UDP"),
    (dict(SSH, source="300.1.2.3"), "source", "no IP address"),
    (dict(SSH, source="10.0.0.0/8,10.1.0.0/16"), "source", "overlap"),
    (dict(SSH, source="10.0.0.1-10.0.0.9,10.0.0.5"), "source", "overlap"),
    (dict(SSH, source="10.0.0.9-10.0.0.1"), "source", "lower address"),
    (dict(SSH, dest="10.0.0.1,2001:db8::1"), "dest", "IPv4 and IPv6"),
])
def test_bad_rules_get_field_messages_and_nothing_is_written(server, pve, rule, field, message):
    before = sum(pve.request_counts().values())
    with pytest.raises(ValidationError) as info:
        actions.firewall_set(server=server, enabled=True, rules=[rule])
    assert message in " ".join(info.value.message_dict[field])
    assert sum(pve.request_counts().values()) == before
    assert not FirewallRule.objects.exists()
    assert not Operation.objects.filter(kind=Operation.Kind.FIREWALL).exists()


def test_overlapping_addresses_in_a_set_are_refused(tenant_a):
    with pytest.raises(ValidationError) as info:
        actions.address_set_save(tenant=tenant_a, name="office", entries=["192.0.2.0/24", "192.0.2.9"])
    assert "overlap" in " ".join(info.value.message_dict["entries"])
    with pytest.raises(ValidationError) as info:
        actions.address_set_save(tenant=tenant_a, name="1bad", entries=["192.0.2.9"])
    assert "name" in info.value.message_dict
    assert not AddressSet.objects.exists()


def test_a_rule_set_closing_ssh_and_rdp_needs_a_confirmation(server):
    web_only = [{"direction": "in", "action": "ACCEPT", "protocol": "tcp", "dest_port": "443"}]
    with pytest.raises(ValidationError) as info:
        actions.firewall_set(server=server, enabled=True, policy_in="DROP", rules=web_only)
    assert "confirm_lockout" in info.value.message_dict
    drop_ssh_first = [{"direction": "in", "action": "DROP", "protocol": "tcp", "dest_port": "1-1024"}, SSH]
    with pytest.raises(ValidationError):
        actions.firewall_set(server=server, enabled=True, rules=drop_ssh_first)
    ok(actions.firewall_set(server=server, enabled=True, rules=web_only, confirm_lockout=True))
    assert [r["dport"] for r in rules_in_proxmox(server)] == ["443"]


def test_ssh_from_the_office_only_is_no_lockout(server):
    ok(actions.firewall_preset_apply(server=server, preset="ssh_office", source="203.0.113.10"))
    with pytest.raises(ValidationError) as info:
        actions.firewall_preset_apply(server=server, preset="rdp_vpn")
    assert "source" in info.value.message_dict


def test_other_tenants_sets_and_groups_cannot_be_used(server, tenant_b):
    theirs = actions.address_set_save(tenant=tenant_b, name="office", entries=["192.0.2.1"])
    group = actions.security_group_save(tenant=tenant_b, name="web", rules=[SSH])
    with pytest.raises(ValidationError) as info:
        actions.firewall_set(server=server, enabled=True, rules=[dict(SSH, source_set=theirs)])
    assert "source_set" in info.value.message_dict
    with pytest.raises(ValidationError) as info:
        actions.firewall_set(server=server, enabled=True, rules=[{"group": group}])
    assert "group" in info.value.message_dict
    assert not SecurityGroup.objects.filter(tenant=server.tenant).exists()


def test_a_group_change_that_locks_its_servers_out_needs_a_confirmation(tenant_a, server):
    group = actions.security_group_save(tenant=tenant_a, name="admin", rules=[SSH])
    ok(actions.firewall_set(server=server, enabled=True, rules=[{"group": group}]))
    web_only = [{"direction": "in", "action": "ACCEPT", "protocol": "tcp", "dest_port": "443"}]
    with pytest.raises(ValidationError) as info:
        actions.security_group_save(tenant=tenant_a, name="admin", group=group, rules=web_only)
    assert "confirm_lockout" in info.value.message_dict
    assert list(group.rules.values_list("dest_port", flat=True)) == ["22"]
    actions.security_group_save(tenant=tenant_a, name="admin", group=group, rules=web_only, confirm_lockout=True)
    assert list(group.rules.values_list("dest_port", flat=True)) == ["443"]
