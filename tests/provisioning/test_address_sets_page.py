"""The tenant's address sets in the browser: added, changed and deleted through the actions; viewers
read them, other tenants get 404, and the list costs the same queries however many sets there are."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from provisioning import actions
from provisioning.models import AddressSet
from tenants.models import AuditEvent

LIST = reverse("provisioning:address_sets")


def edit_url(address_set):
    return reverse("provisioning:address_set_edit", args=[address_set.public_id])


def delete_url(address_set):
    return reverse("provisioning:address_set_delete", args=[address_set.public_id])


@pytest.fixture
def office(tenant_a):
    return actions.address_set_save(tenant=tenant_a, name="office", entries=["198.51.100.0/24"], description="Berlin")


def used_by_a_rule(address_set):
    # A security group's rule uses the set as a server's rule would; no server (no Proxmox) is needed.
    actions.security_group_save(tenant=address_set.tenant, name="ssh-office",
                                rules=[{"protocol": "tcp", "dest_port": "22", "source_set": address_set}])


def test_alice_adds_a_set_with_entries_one_per_line_or_by_commas(alice_client, tenant_a):
    response = alice_client.post(LIST, {"name": "vpn", "entries": "198.51.100.7\n192.0.2.0/28, 192.0.2.64/26",
                                        "description": "Our VPN"}, follow=True)
    saved = AddressSet.objects.get(tenant=tenant_a)
    assert (saved.name, saved.entries, saved.description) == (
        "vpn", ["198.51.100.7", "192.0.2.0/28", "192.0.2.64/26"], "Our VPN")
    body = response.content.decode()
    assert "198.51.100.7, 192.0.2.0/28, 192.0.2.64/26" in body and "Our VPN" in body
    assert AuditEvent.objects.filter(action="address_set.save").exists()


def test_alice_changes_the_entries_of_a_set(alice_client, office):
    form = alice_client.get(edit_url(office)).content.decode()
    assert "198.51.100.0/24" in form, "the edit form starts from the set's entries"
    response = alice_client.post(edit_url(office), {"name": "office", "entries": "203.0.113.0/25\n198.51.100.1",
                                                    "description": "Berlin"})
    assert response.status_code == 302
    office.refresh_from_db()
    assert office.entries == ["203.0.113.0/25", "198.51.100.1"]


def test_a_bad_entry_is_named_at_its_field_and_nothing_is_saved(alice_client, office):
    response = alice_client.post(LIST, {"name": "vpn", "entries": "198.51.100.7\nnot-an-address"})
    assert response.status_code == 200
    assert response.context["form"].errors["entries"], "the action's refusal sits at the entries field"
    assert list(AddressSet.objects.values_list("name", flat=True)) == ["office"]
    response = alice_client.post(edit_url(office), {"name": "renamed", "entries": "300.1.2.3"})
    assert response.context["form"].errors["entries"]
    assert "Address set office" in response.content.decode(), "the heading names the set as it is saved"
    office.refresh_from_db()
    assert office.entries == ["198.51.100.0/24"]


def test_a_range_is_refused_with_what_a_set_can_hold_and_a_new_set_is_told_added(alice_client, tenant_a):
    response = alice_client.post(LIST, {"name": "lan", "entries": "192.0.2.1-192.0.2.9"})
    assert response.context["form"].errors["entries"] == [
        "192.0.2.1-192.0.2.9 is a range; an address set holds addresses and networks (CIDR) only, e.g. 192.0.2.0/28."]
    assert not AddressSet.objects.exists()
    page = alice_client.post(LIST, {"name": "lan", "entries": "192.0.2.0/28"}, follow=True).content.decode()
    assert "The address set lan is added; the firewall rules of your servers can use it now." in page


def test_a_taken_name_is_refused_at_the_name_field(alice_client, office):
    response = alice_client.post(LIST, {"name": "Office", "entries": "192.0.2.1"})
    assert "exists already" in " ".join(response.context["form"].errors["name"])
    assert AddressSet.objects.count() == 1


def test_a_set_still_used_by_rules_is_not_deleted_and_says_why(alice_client, office):
    used_by_a_rule(office)
    listing = alice_client.get(LIST)
    assert [s.rule_count for s in listing.context["address_sets"]] == [1]
    response = alice_client.post(delete_url(office), follow=True)
    assert "Rules still use this address set; change them first." in response.content.decode()
    assert AddressSet.objects.filter(pk=office.pk).exists()


def test_an_unused_set_is_deleted(alice_client, office):
    assert 'data-confirm="Delete the address set office?"' in alice_client.get(LIST).content.decode()
    response = alice_client.post(delete_url(office), follow=True)
    assert not AddressSet.objects.exists()
    assert "The address set office is deleted." in response.content.decode()


def test_a_viewer_sees_the_sets_but_cannot_change_them(bob, bob_client, office):
    bob.memberships.update(role="viewer")
    body = bob_client.get(LIST).content.decode()
    assert "198.51.100.0/24" in body and "Add an address set" not in body
    assert bob_client.get(edit_url(office)).status_code == 200
    assert bob_client.post(LIST, {"name": "vpn", "entries": "192.0.2.1"}).status_code == 403
    assert bob_client.post(edit_url(office), {"name": "office", "entries": "192.0.2.1"}).status_code == 403
    assert bob_client.post(delete_url(office)).status_code == 403
    office.refresh_from_db()
    assert AddressSet.objects.count() == 1 and office.entries == ["198.51.100.0/24"]


def test_other_tenants_get_404_for_a_set_and_do_not_see_it(charlie_client, office):
    assert charlie_client.get(edit_url(office)).status_code == 404
    assert charlie_client.post(edit_url(office), {"name": "mine", "entries": "192.0.2.1"}).status_code == 404
    assert charlie_client.post(delete_url(office)).status_code == 404
    assert "198.51.100.0/24" not in charlie_client.get(LIST).content.decode()
    office.refresh_from_db()
    assert office.name == "office"


def test_the_list_costs_the_same_queries_for_one_set_and_for_twenty(alice_client, tenant_a, office):
    used_by_a_rule(office)

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            assert alice_client.get(LIST).status_code == 200
        return len(ctx)

    one = queries()
    for i in range(19):
        actions.address_set_save(tenant=tenant_a, name=f"set-{i}", entries=[f"192.0.2.{i}"])
    assert queries() == one


def test_the_server_firewall_section_links_to_the_page(alice_client, tenant_a, office):
    from provisioning.models import Cluster, Node, Server

    cluster = Cluster.objects.create(name="C", api_url="127.0.0.1:1", token_id="a@pve!t")
    node = Node.objects.create(cluster=cluster, name="pve", status="online", max_cores=8, max_memory_mb=8192,
                               max_disk_gb=100)
    server = Server.objects.create(tenant=tenant_a, cluster=cluster, node=node, kind="lxc", hostname="web-01",
                                   vmid=100, cores=1, memory_mb=1024, disk_gb=8, status="running")
    body = alice_client.get(reverse("provisioning:firewall", args=[server.public_id])).content.decode()
    assert f'href="{LIST}"' in body and "security groups are managed through the API only" in body
