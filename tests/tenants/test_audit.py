import pytest
from django.urls import reverse

from tenants.audit import audit_record
from tenants.models import AuditEvent, Role

URL = reverse("tenants:audit")


def test_actions_record_who_what_and_from_where(alice_client, tenant_a, alice):
    alice_client.post(reverse("tenants:team"), {"email": "dora@example.com", "role": "member"},
                      HTTP_X_FORWARDED_FOR="198.51.100.66, 203.0.113.7")
    event = AuditEvent.objects.get()
    assert (event.tenant, event.actor, event.actor_label) == (tenant_a, alice, "alice@example.com")
    assert (event.action, event.object_type, event.ip, event.via) == ("invitation.created", "invitation", "203.0.113.7", "web")
    assert event.object_repr == "dora@example.com -> Alpha GmbH"


def test_a_forwarded_address_is_believed_only_from_our_proxy(rf, alice):
    from tenants.audit import client_ip

    via_proxy = rf.get("/", HTTP_X_FORWARDED_FOR="198.51.100.66, 203.0.113.7", REMOTE_ADDR="172.18.0.5")
    direct = rf.get("/", HTTP_X_FORWARDED_FOR="198.51.100.66", REMOTE_ADDR="93.184.216.34")
    garbage = rf.get("/", HTTP_X_FORWARDED_FOR="not-an-ip", REMOTE_ADDR="10.0.0.2")
    assert (client_ip(via_proxy), client_ip(direct), client_ip(garbage)) == ("203.0.113.7", "93.184.216.34", "10.0.0.2")


def test_owners_and_admins_see_the_activity_newest_first(alice_client, member_client, tenant_a):
    audit_record(action="first.thing", tenant=tenant_a)
    audit_record(action="second.thing", tenant=tenant_a)
    page = alice_client.get(URL).content.decode()
    assert page.index("second.thing") < page.index("first.thing")
    assert member_client(Role.ADMIN).get(URL).status_code == 200


@pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
def test_members_and_viewers_do_not_see_the_activity(member_client, role):
    assert member_client(role).get(URL).status_code == 403


def test_other_tenants_events_are_not_shown(alice_client, tenant_a, tenant_b):
    audit_record(action="bravo.secret", tenant=tenant_b)
    assert "bravo.secret" not in alice_client.get(URL).content.decode()


def test_the_activity_is_paginated_by_fifty(alice_client, tenant_a, django_assert_max_num_queries):
    AuditEvent.objects.bulk_create(AuditEvent(tenant=tenant_a, action=f"bulk.{i:03}") for i in range(120))
    with django_assert_max_num_queries(12):
        first = alice_client.get(URL)
    assert len(first.context["page"].object_list) == 50
    assert first.context["page"].object_list[0].action == "bulk.119"
    assert len(alice_client.get(URL + "?page=3").context["page"].object_list) == 20
