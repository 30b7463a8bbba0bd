"""The firewall over the API: a server's rules read back from pvesim, address sets, groups, other tenants."""

from provisioning.models import AddressSet, FirewallRule, Operation
from provisioning.proxmox import PVE

from .test_safety_api import built, done


def test_a_preset_and_a_security_group_over_the_api(alice_api, tenant_a, ct_image, pve, worker):
    server = built(tenant_a, ct_image)
    office = alice_api.post("/api/v1/address-sets/", {"name": "office", "entries": ["203.0.113.0/24"]}, format="json")
    assert office.status_code == 201, office.content
    base = f"/api/v1/servers/{server.public_id}/firewall/"
    done(alice_api.post(f"{base}preset/", {"preset": "ssh_office", "source_set": office.json()["id"]}, format="json"))
    state = alice_api.get(base).json()
    assert state["enabled"] is True and state["rules"][0]["source_set"] == office.json()["id"]

    group = alice_api.post("/api/v1/security-groups/", {"name": "web", "rules": [
        {"direction": "in", "action": "ACCEPT", "protocol": "tcp", "dest_port": "443"}]}, format="json")
    assert group.status_code == 201, group.content
    body = {"enabled": True, "policy_in": "DROP", "policy_out": "ACCEPT",
            "rules": [{"group": group.json()["id"]}, *state["rules"]]}
    done(alice_api.post(base, body, format="json"))
    listing = PVE(server.cluster).firewall_rules(node=server.node.name, kind=server.kind, vmid=server.vmid)
    assert [r["type"] for r in listing] == ["group", "in"]


def test_bad_rules_are_field_errors_in_the_api(alice_api, tenant_a, ct_image, pve, worker):
    server = built(tenant_a, ct_image)
    response = alice_api.post(f"/api/v1/servers/{server.public_id}/firewall/", {
        "enabled": True, "rules": [{"protocol": "tcp", "dest_port": "22,20-30"}]}, format="json")
    assert response.status_code == 400 and "dest_port" in response.json()["errors"], response.content
    response = alice_api.post("/api/v1/address-sets/", {"name": "x1", "entries": ["10.0.0.0/8", "10.1.2.3"]},
                              format="json")
    assert response.status_code == 400 and "entries" in response.json()["errors"]
    assert not FirewallRule.objects.exists() and not AddressSet.objects.exists()


def test_other_tenants_firewalls_sets_and_groups_answer_404(alice_api, charlie_api, tenant_a, tenant_b, ct_image, pve,
                                                          worker):
    server = built(tenant_a, ct_image)
    theirs = charlie_api.post("/api/v1/address-sets/", {"name": "office", "entries": ["192.0.2.1"]}, format="json").json()
    assert alice_api.get(f"/api/v1/address-sets/{theirs['id']}/").status_code == 404
    assert alice_api.delete(f"/api/v1/address-sets/{theirs['id']}/").status_code == 404
    assert charlie_api.get(f"/api/v1/servers/{server.public_id}/firewall/").status_code == 404
    assert charlie_api.post(f"/api/v1/servers/{server.public_id}/firewall/", {"enabled": False, "rules": []},
                            format="json").status_code == 404
    response = alice_api.post(f"/api/v1/servers/{server.public_id}/firewall/preset/",
                              {"preset": "ssh_office", "source_set": theirs["id"]}, format="json")
    assert response.status_code == 400 and "source_set" in response.json()["errors"]
    assert not Operation.objects.filter(kind=Operation.Kind.FIREWALL).exists()
