"""Who may call the API: valid tokens only, with the lower of token and member role, per-token limits."""

import pytest
from allauth.mfa.models import Authenticator
from django.test import Client
from django.utils import timezone

from tenants.models import ApiToken, AuditEvent, Membership, Role
from tests.api.conftest import client_with
from tests.tenants.keys import ed25519_key


def test_it_asks_for_a_token(db):
    response = client_with(None).get("/api/v1/servers/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer jiku_abcdefghij_" + "x" * 43, "Bearer a b"])
def test_it_rejects_garbage_tokens(db, header):
    client = client_with(None)
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/servers/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_a_token_with_a_wrong_secret_fails(alice, tenant_a, token_for):
    text = token_for(alice, tenant_a)
    assert client_with(text[:-1] + ("A" if text[-1] != "A" else "B")).get("/api/v1/me/").status_code == 401


def test_a_revoked_token_fails(alice, tenant_a, token_for):
    text = token_for(alice, tenant_a)
    ApiToken.objects.update(revoked_at=timezone.now())
    response = client_with(text).get("/api/v1/me/")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_an_expired_token_fails(alice, tenant_a, token_for):
    text = token_for(alice, tenant_a, expires_days=1)
    assert client_with(text).get("/api/v1/me/").status_code == 200
    ApiToken.objects.update(expires_at=timezone.now() - timezone.timedelta(seconds=1))
    response = client_with(text).get("/api/v1/me/")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_a_disabled_user_fails(alice, tenant_a, token_for):
    text = token_for(alice, tenant_a)
    alice.is_active = False
    alice.save()
    assert client_with(text).get("/api/v1/me/").status_code == 401


def test_a_token_acts_with_the_lower_of_its_and_its_users_role(alice, bob, tenant_a, token_for):
    viewer_token = client_with(token_for(alice, tenant_a, role=Role.VIEWER, name="ro"))
    assert viewer_token.get("/api/v1/me/").json()["role"] == "viewer"
    response = viewer_token.post("/api/v1/ssh-keys/", {"public_key": ed25519_key()}, format="json")
    assert response.status_code == 403
    owner_token = client_with(token_for(bob, tenant_a, name="bob"))
    Membership.objects.filter(user=bob).update(role=Role.VIEWER)  # demoted after the token was made
    me = owner_token.get("/api/v1/me/").json()
    assert me["role"] == "viewer" and me["token"]["role"] == "member"
    assert owner_token.post("/api/v1/ssh-keys/", {"public_key": ed25519_key()}, format="json").status_code == 403


def test_the_effective_role_is_never_saved(alice, tenant_a, token_for):
    client_with(token_for(alice, tenant_a, role=Role.VIEWER)).get("/api/v1/me/")
    assert Membership.objects.get(user=alice).role == Role.OWNER


def test_a_tenant_requiring_two_factor_refuses_tokens_of_users_without_it(alice, tenant_a, token_for):
    text = token_for(alice, tenant_a)
    tenant_a.require_mfa = True
    tenant_a.save()
    response = client_with(text).get("/api/v1/me/")
    assert response.status_code == 401 and "two-factor" in response.json()["detail"]
    Authenticator.objects.create(user=alice, type=Authenticator.Type.TOTP, data={})
    assert client_with(text).get("/api/v1/me/").status_code == 200


def test_the_signed_in_browser_may_read_but_must_send_csrf_to_write(alice, tenant_a):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    me = browser.get("/api/v1/me/").json()
    assert me["email"] == "alice@example.com" and me["token"] is None
    response = browser.post("/api/v1/ssh-keys/", {"public_key": ed25519_key()}, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_a_user_without_a_tenant_is_refused(charlie):
    browser = Client()
    browser.force_login(charlie)
    assert browser.get("/api/v1/servers/").status_code == 403


def test_requests_are_throttled_per_token(alice, tenant_a, token_for, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api": "3/min", "api_write": "1/min"}}
    first, second = client_with(token_for(alice, tenant_a, name="one")), client_with(token_for(alice, tenant_a, name="two"))
    assert [first.get("/api/v1/me/").status_code for _ in range(3)] == [200, 200, 200]
    response = first.get("/api/v1/me/")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json()["code"] == "throttled"
    assert second.get("/api/v1/me/").status_code == 200


def test_writes_have_their_own_smaller_budget(alice, tenant_a, token_for, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api": "100/min", "api_write": "1/min"}}
    client = client_with(token_for(alice, tenant_a))
    assert client.post("/api/v1/ssh-keys/", {"public_key": ed25519_key()}, format="json").status_code == 201
    assert client.post("/api/v1/ssh-keys/", {"public_key": ed25519_key()}, format="json").status_code == 429
    assert client.get("/api/v1/ssh-keys/").status_code == 200


def test_audit_entries_say_api_and_name_the_token(alice, tenant_a, token_for):
    client = client_with(token_for(alice, tenant_a, name="laptop-script"))
    assert client.post("/api/v1/ssh-keys/", {"public_key": ed25519_key()}, format="json").status_code == 201
    event = AuditEvent.objects.get(action="ssh_key.added")
    assert event.via == AuditEvent.Via.API
    assert event.actor == alice
    assert "laptop-script" in event.actor_label
    assert event.ip == "127.0.0.1"


def test_answers_follow_the_requests_language(alice, tenant_a, token_for):
    client = client_with(token_for(alice, tenant_a))
    response = client.post("/api/v1/ssh-keys/", {"public_key": "nonsense"}, format="json", HTTP_ACCEPT_LANGUAGE="de")
    assert response.status_code == 400
    assert response["Content-Language"] == "de"
