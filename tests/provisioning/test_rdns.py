"""Reverse DNS through a real PowerDNS: a PTR is published once its name resolves forward to the address."""

import ipaddress

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from provisioning import actions, tasks
from provisioning.models import Operation, PtrRecord, Server
from tenants.actions import api_token_create
from tenants.models import AuditEvent, Membership, Role

from .conftest import wait_done


def create(tenant, image, hostname="web-01"):
    server = actions.server_create(
        tenant=tenant, image=image, hostname=hostname, cores=1, memory_mb=1024, disk_gb=10, password="long-enough"
    )
    op = wait_done(server.operations.get())
    assert op.state == Operation.State.SUCCEEDED, op.error
    server.refresh_from_db()
    return server


def placed(tenant, cluster, hostname="web-01", ipv4="192.0.2.10", ipv6_prefix="2001:db8:0:100::/64"):
    """A server row holding addresses, for the checks that need no guest in Proxmox."""
    return Server.objects.create(
        tenant=tenant, cluster=cluster, kind=Server.Kind.LXC, hostname=hostname, cores=1, memory_mb=512, disk_gb=2,
        status=Server.Status.RUNNING, ipv4=ipv4, ipv6_prefix=ipv6_prefix,
        ipv6=str(ipaddress.ip_network(ipv6_prefix).network_address + 1) if ipv6_prefix else None,
    )


def test_a_name_that_resolves_forward_is_published_and_answered_by_powerdns(tenant_a, alice, ct_image, v6_pool, pdns, worker):
    server = create(tenant_a, ct_image)
    pdns.forward("web.example.test", server.ipv4)
    record = actions.ptr_set(server=server, address=server.ipv4, name="Web.Example.Test.", user=alice)
    assert (record.status, record.name) == (PtrRecord.Status.ACTIVE, "web.example.test")
    assert pdns.ptr(server.ipv4) == "web.example.test."
    assert "2.0.192.in-addr.arpa." in pdns.zones()
    assert AuditEvent.objects.filter(action="ptr.set", tenant=tenant_a).exists()


def test_an_ipv6_name_goes_into_the_pools_nibble_zone(tenant_a, ct_image, v6_pool, pdns, worker):
    server = create(tenant_a, ct_image)
    pdns.forward("v6.example.test", server.ipv6)
    actions.ptr_set(server=server, address=server.ipv6, name="v6.example.test")
    assert pdns.ptr(server.ipv6) == "v6.example.test."
    assert "0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa." in pdns.zones()
    # Any address in the routed prefix is the customer's to name.
    other = "2001:db8:0:100::25"
    pdns.forward("mail.example.test", other)
    actions.ptr_set(server=server, address=other, name="mail.example.test")
    assert pdns.ptr(other) == "mail.example.test."


def test_a_name_that_does_not_resolve_yet_waits_until_the_periodic_check_finds_it(tenant_a, cluster, v6_pool, pdns):
    server = placed(tenant_a, cluster)
    record = actions.ptr_set(server=server, address="192.0.2.10", name="later.example.test")
    assert record.status == PtrRecord.Status.PENDING
    assert pdns.ptr("192.0.2.10") is None
    tasks.recheck_ptrs()
    assert PtrRecord.objects.get().status == PtrRecord.Status.PENDING
    pdns.forward("later.example.test", "192.0.2.10")
    tasks.recheck_ptrs()
    assert PtrRecord.objects.get().status == PtrRecord.Status.ACTIVE
    assert pdns.ptr("192.0.2.10") == "later.example.test."


def test_a_name_pointing_elsewhere_is_not_published(tenant_a, cluster, v6_pool, pdns):
    server = placed(tenant_a, cluster)
    pdns.forward("elsewhere.example.test", "192.0.2.99")
    record = actions.ptr_set(server=server, address="192.0.2.10", name="elsewhere.example.test")
    assert record.status == PtrRecord.Status.PENDING
    assert pdns.ptr("192.0.2.10") is None


def test_renaming_to_a_name_that_does_not_resolve_withdraws_the_old_ptr(tenant_a, cluster, v6_pool, pdns):
    server = placed(tenant_a, cluster)
    pdns.forward("old.example.test", "192.0.2.10")
    actions.ptr_set(server=server, address="192.0.2.10", name="old.example.test")
    assert pdns.ptr("192.0.2.10") == "old.example.test."
    record = actions.ptr_set(server=server, address="192.0.2.10", name="new.example.test")
    assert record.status == PtrRecord.Status.PENDING and PtrRecord.objects.count() == 1
    assert pdns.ptr("192.0.2.10") is None


def test_removing_a_name_withdraws_it(tenant_a, cluster, v6_pool, pdns):
    server = placed(tenant_a, cluster)
    pdns.forward("gone.example.test", "192.0.2.10")
    record = actions.ptr_set(server=server, address="192.0.2.10", name="gone.example.test")
    actions.ptr_delete(record=record)
    assert pdns.ptr("192.0.2.10") is None and PtrRecord.objects.count() == 0


def test_the_admin_cannot_delete_a_name_that_powerdns_still_answers(tenant_a, cluster, v6_pool, pdns, admin_client):
    server = placed(tenant_a, cluster)
    pdns.forward("kept.example.test", "192.0.2.10")
    record = actions.ptr_set(server=server, address="192.0.2.10", name="kept.example.test")
    response = admin_client.post(reverse("admin:provisioning_ptrrecord_delete", args=[record.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert PtrRecord.objects.count() == 1 and pdns.ptr("192.0.2.10") == "kept.example.test."


def test_deleting_the_server_withdraws_its_names_before_the_addresses_go_back(tenant_a, ct_image, v6_pool, pdns, worker):
    server = create(tenant_a, ct_image)
    pdns.forward("web.example.test", server.ipv4)
    actions.ptr_set(server=server, address=server.ipv4, name="web.example.test")
    address = server.ipv4
    op = wait_done(actions.server_delete(server=server, confirm_hostname="web-01"))
    assert op.state == Operation.State.SUCCEEDED, op.error
    assert pdns.ptr(address) is None and PtrRecord.objects.count() == 0


@pytest.mark.parametrize("name", ["not a host", "web", "-bad.example.test", "web.example.123", "a" * 64 + ".example.test", ""])
def test_not_a_host_name_gets_a_field_message_and_changes_nothing(tenant_a, cluster, v6_pool, pdns, name):
    server = placed(tenant_a, cluster)
    with pytest.raises(ValidationError) as info:
        actions.ptr_set(server=server, address="192.0.2.10", name=name)
    assert "name" in info.value.message_dict
    assert PtrRecord.objects.count() == 0 and pdns.zones() == []


@pytest.mark.parametrize("address", ["192.0.2.11", "2001:db8:0:101::1", "fe80::1", "not-an-address"])
def test_an_address_of_another_server_gets_a_field_message_and_changes_nothing(tenant_a, tenant_b, cluster, v6_pool, pdns, address):
    server = placed(tenant_a, cluster)
    placed(tenant_b, cluster, hostname="theirs", ipv4="192.0.2.11", ipv6_prefix="2001:db8:0:101::/64")
    if address[0].isdigit():
        pdns.forward("web.example.test", address)
    with pytest.raises(ValidationError) as info:
        actions.ptr_set(server=server, address=address, name="web.example.test")
    assert "address" in info.value.message_dict
    assert PtrRecord.objects.count() == 0 and pdns.ptr("192.0.2.11") is None


def test_without_powerdns_settings_rdns_is_unavailable_and_the_page_says_so(tenant_a, cluster, alice_client, settings):
    settings.PDNS_API_URL = ""
    server = placed(tenant_a, cluster)
    with pytest.raises(ValidationError, match="not available"):
        actions.ptr_set(server=server, address="192.0.2.10", name="web.example.test")
    page = alice_client.get(reverse("provisioning:server_network", args=[server.public_id])).content.decode()
    assert 'data-testid="rdns-unavailable"' in page and "192.0.2.10" in page
    assert PtrRecord.objects.count() == 0


def test_the_network_page_sets_a_name_and_shows_it(tenant_a, cluster, v6_pool, pdns, alice_client):
    server = placed(tenant_a, cluster)
    url = reverse("provisioning:server_network", args=[server.public_id])
    page = alice_client.get(url).content.decode()
    assert "2001:db8:0:100::1" in page and "2001:db8:0:100::/64" in page
    pdns.forward("web.example.test", "2001:db8:0:100::1")
    response = alice_client.post(url, {"address": "2001:db8:0:100::1", "name": "web.example.test"}, follow=True)
    body = response.content.decode()
    assert "The reverse DNS name web.example.test is set." in body and 'data-testid="ptr-records"' in body
    assert pdns.ptr("2001:db8:0:100::1") == "web.example.test."
    alice_client.post(reverse("provisioning:ptr_delete", args=[server.public_id, "2001:db8:0:100::1"]))
    assert pdns.ptr("2001:db8:0:100::1") is None


def test_the_network_page_answers_bad_input_with_a_german_field_message(tenant_a, cluster, v6_pool, pdns, alice_client):
    server = placed(tenant_a, cluster)
    url = reverse("provisioning:server_network", args=[server.public_id])
    response = alice_client.post(url, {"address": "192.0.2.10", "name": "kein host"}, HTTP_ACCEPT_LANGUAGE="de")
    assert response.status_code == 200
    assert "Geben Sie einen vollständigen Hostnamen ein" in response.content.decode()
    response = alice_client.post(url, {"address": "192.0.2.99", "name": "web.example.test"}, HTTP_ACCEPT_LANGUAGE="de")
    assert "Diese Adresse gehört nicht zu diesem Server." in response.content.decode()
    assert PtrRecord.objects.count() == 0


def test_other_tenants_get_404_for_the_page_and_the_names(tenant_a, tenant_b, cluster, v6_pool, pdns, charlie_client):
    server = placed(tenant_a, cluster)
    pdns.forward("web.example.test", "192.0.2.10")
    actions.ptr_set(server=server, address="192.0.2.10", name="web.example.test")
    url = reverse("provisioning:server_network", args=[server.public_id])
    assert charlie_client.get(url).status_code == 404
    assert charlie_client.post(url, {"address": "192.0.2.10", "name": "evil.example.test"}).status_code == 404
    assert charlie_client.post(reverse("provisioning:ptr_delete", args=[server.public_id, "192.0.2.10"])).status_code == 404
    assert PtrRecord.objects.get().name == "web.example.test"


def api_client(user, tenant):
    _token, text = api_token_create(tenant=tenant, user=user, name="script")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {text}")
    return client


def test_the_api_sets_lists_and_removes_names(tenant_a, alice, bob, cluster, v6_pool, pdns):
    server = placed(tenant_a, cluster)
    url = f"/api/v1/servers/{server.public_id}/ptr-records/"
    pdns.forward("api.example.test", "192.0.2.10")
    response = api_client(bob, tenant_a).post(url, {"address": "192.0.2.10", "name": "api.example.test"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "active"
    api = api_client(alice, tenant_a)
    pending = api.post(url, {"address": "2001:db8:0:100::1", "name": "soon.example.test"}, format="json").json()
    assert pending["status"] == "pending"
    # Saving an address again changes its name.
    again = api.post(url, {"address": "2001:DB8:0:100::1", "name": "later.example.test"}, format="json")
    assert again.status_code == 200 and again.json()["name"] == "later.example.test"
    listed = api.get(url).json()
    assert [r["address"] for r in listed["results"]] == ["192.0.2.10", "2001:db8:0:100::1"]
    assert api.post(f"{url}remove/", {"address": "192.0.2.10"}, format="json").status_code == 204
    assert pdns.ptr("192.0.2.10") is None


def test_the_api_answers_bad_input_by_field_and_other_tenants_with_404(tenant_a, tenant_b, alice, charlie, cluster, v6_pool, pdns):
    server = placed(tenant_a, cluster)
    url = f"/api/v1/servers/{server.public_id}/ptr-records/"
    api = api_client(alice, tenant_a)
    bad = api.post(url, {"address": "192.0.2.10", "name": "not a host"}, format="json")
    assert bad.status_code == 400 and "name" in bad.json()["errors"]
    foreign = api.post(url, {"address": "192.0.2.77", "name": "web.example.test"}, format="json")
    assert foreign.status_code == 400 and "address" in foreign.json()["errors"]
    outsider = api_client(charlie, tenant_b)
    assert outsider.get(url).status_code == 404
    assert outsider.post(url, {"address": "192.0.2.10", "name": "web.example.test"}, format="json").status_code == 404
    assert outsider.post(f"{url}remove/", {"address": "192.0.2.10"}, format="json").status_code == 404
    assert PtrRecord.objects.count() == 0


def test_a_viewer_reads_the_network_page_but_names_nothing(tenant_a, bob, bob_client, cluster, v6_pool, pdns):
    Membership.objects.filter(user=bob).update(role=Role.VIEWER)
    server = placed(tenant_a, cluster)
    url = reverse("provisioning:server_network", args=[server.public_id])
    page = bob_client.get(url).content.decode()
    assert "192.0.2.10" in page and 'data-testid="ptr-form"' not in page
    pdns.forward("web.example.test", "192.0.2.10")
    assert bob_client.post(url, {"address": "192.0.2.10", "name": "web.example.test"}).status_code == 403
    assert PtrRecord.objects.count() == 0 and pdns.ptr("192.0.2.10") is None
