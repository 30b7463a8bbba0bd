"""The server's firewall page: rules added, moved and deleted through the browser; other tenants get 404."""

import pytest
from django.urls import reverse
from django.utils import translation

from provisioning import actions
from provisioning.models import FirewallRule, Operation


@pytest.fixture
def alice_server(tenant_a, ct_image):
    return actions.server_create(tenant=tenant_a, image=ct_image, hostname="web-01", cores=1, memory_mb=512, disk_gb=8,
                                 password="long-enough")


def page(server):
    return reverse("provisioning:firewall", args=[server.public_id])


def add(client, server, **fields):
    body = {"direction": "in", "action": "ACCEPT", "protocol": "tcp", **fields}
    return client.post(reverse("provisioning:firewall_rule_add", args=[server.public_id]), body, follow=True)


def test_alice_adds_moves_and_deletes_rules_in_her_order(alice_client, alice_server):
    assert alice_client.get(page(alice_server)).status_code == 200
    add(alice_client, alice_server, dest_port="22", source="203.0.113.0/24", comment="c-ssh-office")
    add(alice_client, alice_server, dest_port="443", comment="c-https-all")
    https = FirewallRule.objects.get(comment="c-https-all")
    alice_client.post(reverse("provisioning:firewall_rule_move", args=[alice_server.public_id, https.public_id]),
                      {"position": "0"})
    assert list(FirewallRule.objects.values_list("comment", flat=True)) == ["c-https-all", "c-ssh-office"]
    body = alice_client.get(page(alice_server)).content.decode()
    assert body.index("c-https-all") < body.index("c-ssh-office")
    alice_client.post(reverse("provisioning:firewall_rule_delete", args=[alice_server.public_id, https.public_id]))
    assert list(FirewallRule.objects.values_list("comment", flat=True)) == ["c-ssh-office"]
    assert FirewallRule.objects.get().dest_port == "22", "a rule keeps its id through edits of the others"
    assert Operation.objects.filter(server=alice_server, kind=Operation.Kind.FIREWALL).exists()


def test_a_bad_port_is_named_at_its_field_and_nothing_is_saved(alice_client, alice_server):
    response = add(alice_client, alice_server, dest_port="99999")
    assert "between 1 and 65535" in response.content.decode()
    assert not FirewallRule.objects.exists()


def test_a_preset_that_closes_nothing_needs_no_confirmation_and_a_lockout_does(alice_client, alice_server):
    url = reverse("provisioning:firewall_preset", args=[alice_server.public_id])
    alice_client.post(url, {"preset": "ssh_office", "source": "203.0.113.10"})
    assert FirewallRule.objects.get().dest_port == "22"
    options = reverse("provisioning:firewall_options", args=[alice_server.public_id])
    alice_client.post(reverse("provisioning:firewall_rule_delete",
                              args=[alice_server.public_id, FirewallRule.objects.get().public_id]))
    assert FirewallRule.objects.count() == 1, "deleting the only SSH rule closes SSH: it needs the confirmation"
    response = alice_client.post(options, {"enabled": "on", "policy_in": "ACCEPT", "policy_out": "ACCEPT"}, follow=True)
    assert response.status_code == 200


def test_other_tenants_get_404_for_every_firewall_url(alice_server, alice_client, charlie_client):
    add(alice_client, alice_server, dest_port="22")
    rule = FirewallRule.objects.get()
    pid = alice_server.public_id
    assert charlie_client.get(page(alice_server)).status_code == 404
    for name, args in (("firewall_options", [pid]), ("firewall_preset", [pid]), ("firewall_rule_add", [pid]),
                       ("firewall_rule_move", [pid, rule.public_id]), ("firewall_rule_delete", [pid, rule.public_id])):
        response = charlie_client.post(reverse(f"provisioning:{name}", args=args), {"position": "0", "preset": "web"})
        assert response.status_code == 404, name
    assert FirewallRule.objects.count() == 1


def test_a_viewer_sees_the_rules_but_cannot_change_them(alice_server, alice_client, bob, bob_client):
    add(alice_client, alice_server, dest_port="22", comment="ssh")
    bob.memberships.update(role="viewer")
    assert "ssh" in bob_client.get(page(alice_server)).content.decode()
    response = bob_client.post(reverse("provisioning:firewall_rule_add", args=[alice_server.public_id]),
                               {"direction": "in", "action": "DROP"})
    assert response.status_code == 403
    assert FirewallRule.objects.count() == 1


def test_the_page_speaks_german_and_english(alice_client, alice_server):
    with translation.override("de"):
        german = alice_client.get(page(alice_server), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Regeln" in german and "Vorlage anwenden" in german
    english = alice_client.get(page(alice_server)).content.decode()
    assert "Apply a preset" in english


def test_staff_read_firewalls_sets_and_groups_in_the_admin(client, alice_server, tenant_a):
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.create_superuser("staff", "staff@jiku.example", "x"))
    office = actions.address_set_save(tenant=tenant_a, name="office", entries=["192.0.2.1"])
    group = actions.security_group_save(tenant=tenant_a, name="web", rules=[{"protocol": "tcp", "dest_port": "443"}])
    actions.firewall_set(server=alice_server, enabled=False, rules=[{"group": group}, {"source_set": office}])
    for model, obj in (("firewall", alice_server.firewall), ("addressset", office), ("securitygroup", group)):
        assert client.get(reverse(f"admin:provisioning_{model}_changelist") + "?q=web").status_code == 200
        page = client.get(reverse(f"admin:provisioning_{model}_change", args=[obj.pk]))
        assert page.status_code == 200, model
