import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from tenants import actions
from tenants.audit import audit_record
from tenants.models import AuditEvent, Role, Tenant

URL = reverse("tenants:settings")


def data(**overrides):
    return {"name": "Alpha GmbH", "billing_address": "Hauptstr. 1\n10115 Berlin", "vat_id": "DE123456789",
            "time_zone": "Europe/Berlin", **overrides}


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


def test_an_owner_picks_the_time_zone_the_pages_tell_times_in(alice_client, bob_client, tenant_a, alice):
    entry = audit_record(action="ssh_key.added", tenant=tenant_a, actor=alice, obj=tenant_a)
    AuditEvent.objects.filter(pk=entry.pk).update(created_at=datetime.datetime(2026, 7, 1, 10, 0, tzinfo=datetime.UTC))
    assert "1 Jul 2026, 12:00" in alice_client.get(reverse("tenants:audit"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert alice_client.post(URL, data(time_zone="Europe/Lisbon")).status_code == 302
    assert Tenant.objects.get(pk=tenant_a.pk).time_zone == "Europe/Lisbon"
    page = alice_client.get(reverse("tenants:audit"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "1 Jul 2026, 11:00" in page  # Lisbon is an hour behind Berlin


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "EST5EDT", "Europe/Berlin; DROP TABLE"])
def test_an_unknown_time_zone_is_refused_at_the_field_and_changes_nothing(alice_client, tenant_a, zone):
    response = alice_client.post(URL, data(time_zone=zone))
    assert response.status_code == 200 and response.context["form"].errors["time_zone"]
    assert Tenant.objects.get(pk=tenant_a.pk).time_zone == "Europe/Berlin"
    assert not AuditEvent.objects.filter(action="tenant.updated").exists()


def test_the_action_refuses_an_unknown_time_zone_for_every_door(tenant_a, alice):
    with pytest.raises(ValidationError) as info:
        actions.tenant_update(tenant=tenant_a, by=alice, request=None, name="Alpha GmbH", billing_address="",
                              vat_id="", require_mfa=False, time_zone="Mars/Olympus")
    assert "time_zone" in info.value.message_dict
    assert Tenant.objects.get(pk=tenant_a.pk).time_zone == "Europe/Berlin"


def test_a_tenants_time_zone_does_not_stay_for_the_next_request(alice_client, client, tenant_a, settings):
    """One worker thread serves many requests: a sign-in page after a New York tenant's page is in
    the portal's zone again."""
    from django.utils import timezone

    Tenant.objects.filter(pk=tenant_a.pk).update(time_zone="America/New_York")
    alice_client.get(reverse("tenants:audit"))
    assert timezone.get_current_timezone_name() == "America/New_York"
    client.get(reverse("account_login"))
    assert timezone.get_current_timezone_name() == settings.TIME_ZONE


def test_a_zone_stored_before_zones_were_checked_leaves_the_portals_zone(alice_client, tenant_a, settings):
    from django.utils import timezone

    Tenant.objects.filter(pk=tenant_a.pk).update(time_zone="Mars/Olympus")
    assert alice_client.get(reverse("tenants:audit")).status_code == 200
    assert timezone.get_current_timezone_name() == settings.TIME_ZONE
