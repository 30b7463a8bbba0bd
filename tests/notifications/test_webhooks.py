"""Webhooks: a tenant's events POSTed to its receiver, signed, retried, never to private addresses in production."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.urls import reverse
from rest_framework.test import APIClient

from notifications import actions, webhooks
from notifications.models import Delivery, Preference, Webhook
from portal.api.models import IdempotencyRecord
from tenants.actions import api_token_create
from tenants.actions import invitation_create as invite
from tenants.models import AuditEvent
from tests.conftest import client_for
from tests.provisioning.conftest import wait_for

from .conftest import deliver

pytestmark = pytest.mark.django_db


class Receiver:
    """A local HTTP receiver: records what arrives and answers with `status`."""

    def __init__(self, delay=0):
        self.requests, self.status, self.delay = [], 204, delay
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                time.sleep(receiver.delay)  # a slow receiver: it has the request, the answer is late
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"


@pytest.fixture
def receiver(settings):
    settings.NOTIFICATIONS_WEBHOOK_ALLOW_PRIVATE = True  # tests deliver to a local receiver
    r = Receiver()
    yield r
    r.server.shutdown()


def built(tenant):
    return actions.event_record(tenant=tenant, kind="server_built", payload={"server": "web-01", "path": "/servers/x/"})


def test_a_tenants_events_reach_its_webhook_signed_and_other_tenants_do_not(tenant_a, tenant_b, alice, charlie,
                                                                           receiver):
    hook = actions.webhook_create(tenant=tenant_a, by=alice, url=receiver.url)
    other = Receiver()
    actions.webhook_create(tenant=tenant_b, by=charlie, url=other.url)
    built(tenant_a)
    deliver()
    deliver()  # the tasks running twice send nothing twice
    assert len(receiver.requests) == 1 and other.requests == []
    headers, body = receiver.requests[0]
    assert webhooks.verify(hook.secret, headers["X-Portal-Signature"], body)
    assert not webhooks.verify("another-secret", headers["X-Portal-Signature"], body)
    data = json.loads(body)
    assert data["type"] == "server_built" and data["tenant"] == "alpha" and data["data"]["server"] == "web-01"
    assert data["url"] == "http://127.0.0.1:8000/servers/x/"
    assert Delivery.objects.get(webhook=hook).state == Delivery.State.SENT
    other.server.shutdown()


@pytest.mark.django_db(transaction=True)
def test_a_tenants_slow_receiver_never_holds_up_another_tenants_through_the_real_worker(
        tenant_a, tenant_b, alice, charlie, receiver, worker):
    slow = Receiver(delay=4)
    slow_hook = actions.webhook_create(tenant=tenant_a, by=alice, url=slow.url)
    hook = actions.webhook_create(tenant=tenant_b, by=charlie, url=receiver.url)
    with transaction.atomic():
        built(tenant_a)
    wait_for(lambda: slow.requests, message="the slow receiver to be called")
    with transaction.atomic():
        built(tenant_b)
    wait_for(lambda: receiver.requests, timeout=10, message="the other tenant's receiver")
    # Tenant B's event arrived while tenant A's receiver still keeps its worker thread waiting.
    assert Delivery.objects.get(webhook=slow_hook).state == Delivery.State.SENDING
    headers, body = receiver.requests[0]
    assert webhooks.verify(hook.secret, headers["X-Portal-Signature"], body)
    assert json.loads(body)["tenant"] == "bravo"
    wait_for(lambda: Delivery.objects.get(webhook=slow_hook).state == Delivery.State.SENT, timeout=15,
             message="the slow receiver's answer")
    assert len(slow.requests) == 1 and len(receiver.requests) == 1
    slow.server.shutdown()


def test_a_signature_older_than_the_replay_window_is_refused():
    body = b'{"type": "server_built"}'
    header = webhooks.sign("s3cret", int(time.time()) - 301, body)
    assert not webhooks.verify("s3cret", header, body)
    assert webhooks.verify("s3cret", webhooks.sign("s3cret", int(time.time()), body), body)


def test_a_receiver_answering_500_is_retried_and_then_marked_failing(tenant_a, alice, receiver, settings):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 2
    receiver.status = 500
    hook = actions.webhook_create(tenant=tenant_a, by=alice, url=receiver.url)
    event = built(tenant_a)
    actions.event_fan_out(event_id=event.pk)
    delivery = Delivery.objects.get(webhook=hook)
    assert actions.delivery_send(delivery_id=delivery.pk) is False
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.PENDING and "HTTP 500" in delivery.last_error
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=None)
    actions.delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    hook.refresh_from_db()
    assert delivery.state == Delivery.State.FAILED and hook.failing_since is not None
    page = client_for(alice).get(reverse("notifications:webhooks")).content.decode()
    assert "failing since" in page and "HTTP 500" in page
    receiver.status = 204
    built(tenant_a)
    deliver()
    hook.refresh_from_db()
    assert hook.failing_since is None  # the next delivery that arrives clears it


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "http://localhost/hook", "http://10.1.2.3/",
                                 "http://[::1]/", "http://169.254.169.254/latest/meta-data", "ftp://example.com/"])
def test_production_refuses_webhooks_to_private_addresses(tenant_a, alice, settings, url):
    settings.NOTIFICATIONS_WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(ValidationError):
        actions.webhook_create(tenant=tenant_a, by=alice, url=url)
    assert not Webhook.objects.exists()


def test_send_test_reaches_only_that_webhook_and_mails_nobody(tenant_a, alice, receiver):
    first = actions.webhook_create(tenant=tenant_a, by=alice, url=receiver.url)
    actions.webhook_create(tenant=tenant_a, by=alice, url=receiver.url + "/second")
    deliver()
    mail.outbox.clear()  # the owners' security mails about the new webhooks
    client_for(alice).post(reverse("notifications:webhook_test", args=[first.public_id]))
    deliver()
    assert [json.loads(body)["type"] for _headers, body in receiver.requests] == ["webhook_test"]
    assert mail.outbox == []


def test_an_invitation_with_its_link_never_reaches_the_tenants_webhook(tenant_a, alice, receiver, rf):
    actions.webhook_create(tenant=tenant_a, by=alice, url=receiver.url)
    deliver()
    mail.outbox.clear()
    invite(tenant=tenant_a, email="eve@example.com", role="member", invited_by=alice, request=rf.get("/"))
    deliver()
    assert receiver.requests == [] and [m.to for m in mail.outbox] == [["eve@example.com"]]


def test_only_owners_and_admins_manage_webhooks_and_other_tenants_get_404(tenant_a, tenant_b, alice, bob, charlie,
                                                                        receiver):
    assert client_for(bob).get(reverse("notifications:webhooks")).status_code == 403
    with pytest.raises(PermissionDenied):
        actions.webhook_create(tenant=tenant_a, by=bob, url=receiver.url)
    hook = actions.webhook_create(tenant=tenant_a, by=alice, url=receiver.url)
    assert client_for(charlie).post(reverse("notifications:webhook_delete", args=[hook.public_id])).status_code == 404
    assert client_for(alice).post(reverse("notifications:webhook_delete", args=[hook.public_id])).status_code == 302
    assert not Webhook.objects.exists()


def test_the_page_shows_a_new_webhooks_secret_once_and_stores_it_encrypted(tenant_a, alice, receiver):
    response = client_for(alice).post(reverse("notifications:webhooks"), {"url": receiver.url})
    assert response.status_code == 200
    hook = Webhook.objects.get()
    assert len(hook.secret) >= 43 and hook.secret in response.content.decode()
    assert hook.secret not in hook.secret_encrypted
    with connection.cursor() as cursor:  # what a database dump holds
        cursor.execute("SELECT * FROM notifications_webhook")
        assert hook.secret not in repr(cursor.fetchall())
    assert hook.secret not in client_for(alice).get(reverse("notifications:webhooks")).content.decode()


def test_rotating_the_secret_shows_the_new_one_once_and_signs_with_it(tenant_a, alice, bob, receiver):
    hook = actions.webhook_create(tenant=tenant_a, by=alice, url=receiver.url)
    old = hook.secret
    assert client_for(bob).post(reverse("notifications:webhook_rotate", args=[hook.public_id])).status_code == 403
    response = client_for(alice).post(reverse("notifications:webhook_rotate", args=[hook.public_id]))
    hook.refresh_from_db()
    assert hook.secret != old and hook.secret in response.content.decode()
    built(tenant_a)
    deliver()
    headers, body = receiver.requests[0]
    assert webhooks.verify(hook.secret, headers["X-Portal-Signature"], body)
    assert not webhooks.verify(old, headers["X-Portal-Signature"], body)
    # Who gave it a new secret, and from where, stays in the tenant's activity log.
    entry = AuditEvent.objects.get(tenant=tenant_a, action="webhook.secret_rotated")
    assert (entry.actor, entry.via, entry.ip) == (alice, "web", "127.0.0.1")
    activity = client_for(alice).get(reverse("tenants:audit")).content.decode()
    assert f"Webhook {receiver.url} given a new secret" in activity and hook.secret not in activity


def test_a_secret_that_cannot_be_read_after_a_key_change_fails_visibly(tenant_a, alice, receiver, settings):
    hook = actions.webhook_create(tenant=tenant_a, by=alice, url=receiver.url)
    settings.FIELD_ENCRYPTION_KEY = "another key"
    built(tenant_a)
    deliver()
    assert receiver.requests == []  # never signed with an empty secret
    assert "rotate it" in Delivery.objects.get(webhook=hook).last_error


def api(user, tenant, role=None):
    _token, text = api_token_create(tenant=tenant, user=user, name="hooks", role=role)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {text}")
    return client


def test_the_api_registers_tests_lists_and_removes_webhooks(tenant_a, tenant_b, alice, charlie, receiver):
    client = api(alice, tenant_a)
    created = client.post("/api/v1/webhooks/", {"url": receiver.url}, format="json")
    assert created.status_code == 201 and created.json()["secret"] == Webhook.objects.get().secret
    hook_id = created.json()["id"]
    listed = client.get("/api/v1/webhooks/").json()["results"]
    assert [h["id"] for h in listed] == [hook_id] and "secret" not in listed[0]  # shown once only
    assert "secret" not in client.get(f"/api/v1/webhooks/{hook_id}/").json()
    rotated = client.post(f"/api/v1/webhooks/{hook_id}/rotate-secret/")
    assert rotated.status_code == 200 and rotated.json()["secret"] not in ("", created.json()["secret"])
    assert rotated.json()["secret"] == Webhook.objects.get().secret
    outsider = api(charlie, tenant_b)
    assert outsider.post(f"/api/v1/webhooks/{hook_id}/rotate-secret/").status_code == 404
    assert client.post(f"/api/v1/webhooks/{hook_id}/test/").status_code == 202
    deliver()
    log = client.get(f"/api/v1/webhooks/{hook_id}/deliveries/").json()["results"]
    assert [(d["type"], d["state"]) for d in log] == [("webhook_test", "sent")]
    assert outsider.get(f"/api/v1/webhooks/{hook_id}/").status_code == 404
    assert client.delete(f"/api/v1/webhooks/{hook_id}/").status_code == 204
    assert not Webhook.objects.exists()
    trail = AuditEvent.objects.filter(tenant=tenant_a, action__startswith="webhook.").order_by("pk")
    assert [(e.action, e.via, e.object_repr) for e in trail] == [
        (code, "api", receiver.url) for code in ("webhook.created", "webhook.secret_rotated", "webhook.removed")]


def test_owners_hear_of_every_webhook_change_even_when_they_switched_it_off(tenant_a, alice, bob, receiver):
    admin = bob.memberships.get(tenant=tenant_a)
    admin.role = "admin"
    admin.save()
    Preference.objects.create(user=alice, kind="webhook_changed", email=False)
    hook = actions.webhook_create(tenant=tenant_a, by=bob, url=receiver.url)
    actions.webhook_rotate_secret(webhook=hook, by=bob)
    actions.webhook_delete(webhook=Webhook.objects.get(), by=bob)
    deliver()
    assert [m.subject for m in mail.outbox if m.to == ["alice@example.com"]] == [
        "[JIKU Cloud] New webhook for Alpha GmbH", "[JIKU Cloud] A webhook of Alpha GmbH has a new secret",
        "[JIKU Cloud] A webhook of Alpha GmbH was removed"]
    assert f"bob@example.com registered the webhook {receiver.url} for Alpha GmbH" in mail.outbox[0].body
    assert receiver.requests == []  # news about webhooks is not POSTed to them


def test_a_replayed_registration_never_stored_the_secret(tenant_a, alice, receiver):
    client = api(alice, tenant_a)
    first = client.post("/api/v1/webhooks/", {"url": receiver.url}, format="json", HTTP_IDEMPOTENCY_KEY="hook-1")
    again = client.post("/api/v1/webhooks/", {"url": receiver.url}, format="json", HTTP_IDEMPOTENCY_KEY="hook-1")
    assert first.json()["secret"] and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and "secret" not in again.json()
    assert first.json()["secret"] not in repr(list(IdempotencyRecord.objects.values()))


def test_the_api_keeps_members_and_a_lower_token_out(tenant_a, alice, bob, receiver):
    assert api(bob, tenant_a).get("/api/v1/webhooks/").status_code == 403
    response = api(alice, tenant_a, role="member").post("/api/v1/webhooks/", {"url": receiver.url}, format="json")
    assert response.status_code == 403 and not Webhook.objects.exists()


def test_the_api_refuses_private_addresses_in_production(tenant_a, alice, settings):
    settings.NOTIFICATIONS_WEBHOOK_ALLOW_PRIVATE = False
    response = api(alice, tenant_a).post("/api/v1/webhooks/", {"url": "http://127.0.0.1:9/"}, format="json")
    assert response.status_code == 400 and "url" in response.json()["errors"]
