"""One mechanism: an event recorded with its change, one delivery per recipient, sent once."""

import socket

import pytest
from django.core import mail
from django.urls import reverse

from notifications import actions
from notifications.models import Delivery, Event, MailSettings, Preference
from tenants.models import Membership, Role
from tests.conftest import client_for, make_tenant

from .conftest import deliver

pytestmark = pytest.mark.django_db


def record(tenant, kind="server_build_failed", **payload):
    payload = {"server": "web-01", "path": "/servers/", "reason": "The build failed.", **payload}
    return actions.event_record(tenant=tenant, kind=kind, payload=payload)


def to(address):
    return [m for m in mail.outbox if m.to == [address]]


def test_an_event_is_delivered_exactly_once_even_if_the_tasks_run_twice(tenant_a):
    event = record(tenant_a)
    first = actions.event_fan_out(event_id=event.pk)
    second = actions.event_fan_out(event_id=event.pk)
    assert sorted(first) == sorted(second) and len(first) == 2
    for delivery_id in first + second:
        actions.delivery_send(delivery_id=delivery_id)
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "bob@example.com"]
    assert set(Delivery.objects.values_list("state", flat=True)) == {Delivery.State.SENT}


def test_a_delivery_another_worker_holds_is_not_sent_again(tenant_a):
    event = record(tenant_a)
    delivery_id = actions.event_fan_out(event_id=event.pk)[0]
    assert actions._claim(delivery_id) is not None  # a worker is sending it right now
    assert actions.delivery_send(delivery_id=delivery_id) is False
    assert mail.outbox == []


def test_a_delivery_whose_sender_died_mid_send_is_sent_when_its_lease_ran_out(tenant_a):
    event = record(tenant_a)
    delivery_id = actions.event_fan_out(event_id=event.pk)[0]
    actions._claim(delivery_id)  # claimed, then the worker was killed
    Delivery.objects.filter(pk=delivery_id).update(lease_until=event.created_at)
    assert delivery_id in actions.notifications_sweep(older_than_seconds=0)[1]
    assert actions.delivery_send(delivery_id=delivery_id) is True
    assert actions.delivery_send(delivery_id=delivery_id) is False
    assert len(mail.outbox) == 1 and Delivery.objects.get(pk=delivery_id).attempts == 2


def test_it_mails_the_owner_and_members_when_a_build_fails_with_the_reason(tenant_a):
    record(tenant_a, reason="The build failed and everything reserved for it was released. JIKU's staff see the cause.")
    deliver()
    message = to("alice@example.com")[0]
    assert message.subject == "[JIKU Cloud] Server web-01 could not be built"
    assert "everything reserved for it was released" in message.body
    assert "http://127.0.0.1:8000/servers/" in message.body
    html = message.alternatives[0][0]
    assert "everything reserved for it was released" in html and 'href="http://127.0.0.1:8000/servers/"' in html
    assert to("bob@example.com")


def test_other_tenants_never_receive(tenant_a, tenant_b):
    record(tenant_a)
    deliver()
    assert to("charlie@example.com") == []
    assert not Delivery.objects.filter(user__email="charlie@example.com").exists()


def test_subjects_are_never_html_escaped_but_the_html_body_is(alice):
    tenant = make_tenant("Neu & Söhne GmbH", "neu", owner=alice)
    actions.event_record(tenant=tenant, kind="member_joined",
                         payload={"member": "<b>eve</b>@example.com", "role": "Member", "path": "/team/"})
    deliver()
    message = to("alice@example.com")[0]
    assert message.subject == "[JIKU Cloud] New member in Neu & Söhne GmbH"
    assert "Neu & Söhne GmbH" in message.body and "<b>eve</b>@example.com" in message.body
    html = message.alternatives[0][0]
    assert "Neu &amp; Söhne GmbH" in html and "&lt;b&gt;eve&lt;/b&gt;" in html and "<b>eve" not in html


def test_the_mail_is_in_the_recipients_language(tenant_a, alice):
    MailSettings.objects.create(user=alice, language="de")
    record(tenant_a, reason="The build failed and everything reserved for it was released. JIKU's staff see the cause.")
    deliver()
    german, english = to("alice@example.com")[0], to("bob@example.com")[0]
    assert german.subject == "[JIKU Cloud] Server web-01 konnte nicht gebaut werden"
    assert "Hallo," in german.body and "freigegeben" in german.body
    assert english.subject == "[JIKU Cloud] Server web-01 could not be built"


def test_viewers_get_no_build_mails_unless_they_ask(tenant_a, viewer):
    record(tenant_a)
    deliver()
    assert to("vera@example.com") == []
    Preference.objects.create(user=viewer, kind="server_built", email=True)
    record(tenant_a, kind="server_built")
    Event.objects.filter(kind="server_build_failed").delete()
    deliver()
    assert len(to("vera@example.com")) == 1


def test_a_member_who_switched_a_kind_off_gets_no_mail(tenant_a, bob):
    Preference.objects.create(user=bob, kind="server_build_failed", email=False)
    record(tenant_a)
    deliver()
    assert to("bob@example.com") == [] and len(to("alice@example.com")) == 1


def test_owners_cannot_switch_off_security_mails(tenant_a, alice, bob):
    Membership.objects.filter(user=bob).update(role=Role.ADMIN)
    for user in (alice, bob):
        Preference.objects.create(user=user, kind="member_joined", email=False)
    actions.event_record(tenant=tenant_a, kind="member_joined", payload={"member": "eve@example.com", "role": "Member"})
    deliver()
    assert len(to("alice@example.com")) == 1  # the owner, despite the preference
    assert to("bob@example.com") == []  # an admin may switch it off


def test_staff_hear_of_new_requests_by_their_permission(tenant_a, dora, otto, sam):
    actions.event_record(tenant=tenant_a, kind="staff_request_new",
                         payload={"subject": "Restore please", "duty": "Backups", "by": "bob@example.com"})
    deliver()
    assert sorted(m.to[0] for m in mail.outbox) == ["dora@jiku.example", "otto@jiku.example"]
    assert mail.outbox[0].subject == "[JIKU Cloud] New service request from Alpha GmbH: Restore please"


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_smtp_down_means_retry_with_backoff_then_failed_and_visible_to_staff(tenant_a, settings, dora):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port(), 2
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 2
    event = record(tenant_a)
    delivery_id = actions.event_fan_out(event_id=event.pk)[0]
    assert actions.delivery_send(delivery_id=delivery_id) is False
    delivery = Delivery.objects.get(pk=delivery_id)
    assert delivery.state == Delivery.State.PENDING and delivery.attempts == 1
    assert "Connection refused" in delivery.last_error and delivery.next_attempt_at is not None
    assert actions.delivery_send(delivery_id=delivery_id) is False  # not due yet
    Delivery.objects.filter(pk=delivery_id).update(next_attempt_at=None)
    actions.delivery_send(delivery_id=delivery_id)
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.FAILED and delivery.attempts == 2

    page = client_for(dora).get(reverse("admin:notifications_delivery_changelist") + "?state__exact=failed")
    assert page.status_code == 200 and delivery.address in page.content.decode()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    client_for(dora).post(reverse("admin:notifications_delivery_changelist"),
                          {"action": "send_again", "_selected_action": [delivery_id]})
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.PENDING and delivery.attempts == 0
    assert actions.delivery_send(delivery_id=delivery_id) is True and len(mail.outbox) == 1


def test_the_sweep_finds_events_whose_task_was_lost(tenant_a):
    event = record(tenant_a)
    Event.objects.filter(pk=event.pk).update(created_at=event.created_at.replace(year=2020))
    events, _deliveries = actions.notifications_sweep()
    assert events == [event.pk]


def test_staff_filter_deliveries_by_kind_named_in_their_language(tenant_a, dora):
    record(tenant_a)
    actions.event_record(tenant=None, kind="staff_node_offline", payload={"node": "pve3", "cluster": "C", "path": "/"})
    deliver()
    client = client_for(dora)
    url = reverse("admin:notifications_delivery_changelist")
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Serverbau fehlgeschlagen" in page and ">server_build_failed<" not in page
    assert "Knoten offline (Plattform)" in page  # staff news belongs to no tenant
    filtered = client.get(url, {"event_kind": "staff_node_offline"}, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "dora@jiku.example" in filtered and "alice@example.com" not in filtered
