import pytest
from django.urls import reverse

from tenants.models import AuditEvent, Role, Tenant

URL = reverse("tenants:settings")


def data(**overrides):
    return {"name": "Alpha GmbH", "billing_address": "Hauptstr. 1\n10115 Berlin", "vat_id": "DE123456789",
            **overrides}


def test_owners_update_name_billing_address_and_vat_id(alice_client, tenant_a, alice):
    response = alice_client.post(URL, data(name="Alpha Holding GmbH", vat_id="de 123.456.789"))
    assert response.status_code == 302
    tenant_a.refresh_from_db()
    assert (tenant_a.name, tenant_a.vat_id) == ("Alpha Holding GmbH", "DE123456789")
    event = AuditEvent.objects.get(action="tenant.updated")
    assert event.actor == alice and event.details == {"changed": ["billing_address", "name", "vat_id"]}


@pytest.mark.parametrize("vat_id", ["123456789", "D1", "DE1", "DE12345678901234", "DE-12!"])
def test_malformed_vat_ids_are_refused_at_the_field(alice_client, tenant_a, vat_id):
    response = alice_client.post(URL, data(vat_id=vat_id))
    assert response.status_code == 200
    assert response.context["form"].errors["vat_id"]
    assert Tenant.objects.get(pk=tenant_a.pk).vat_id == ""
    assert not AuditEvent.objects.exists()


def test_an_invalid_form_leaves_the_header_name_alone(alice_client):
    response = alice_client.post(URL, data(name="Renamed", vat_id="x"))
    assert response.context["current_tenant"].name == "Alpha GmbH"


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MEMBER, Role.VIEWER])
def test_only_owners_reach_the_settings(member_client, tenant_a, role):
    client = member_client(role)
    assert client.get(URL).status_code == 403
    assert client.post(URL, data(name="Hijacked")).status_code == 403
    assert Tenant.objects.get(pk=tenant_a.pk).name == "Alpha GmbH"


def test_requiring_two_factor_sends_members_to_totp_setup(alice_client, bob_client, tenant_a):
    alice_client.post(URL, data(require_mfa="on"))
    assert Tenant.objects.get(pk=tenant_a.pk).require_mfa
    response = bob_client.get(reverse("tenants:team"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("mfa_activate_totp"))
