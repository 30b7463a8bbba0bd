"""Personal API tokens: shown once, stored hashed, role capped, revoked and listed in the browser."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from tenants import apitokens
from tenants.actions import api_token_create
from tenants.models import ApiToken, AuditEvent, Membership, Role
from tests.api.conftest import client_with


def test_a_token_is_stored_only_as_a_hash(alice, tenant_a):
    token, text = api_token_create(tenant=tenant_a, user=alice, name="ci")
    assert text.startswith(token.prefix + "_")
    assert apitokens.split(text) == token.prefix
    assert token.key_hash != text and text not in token.key_hash
    assert apitokens.matches(text, token.key_hash)
    assert not apitokens.matches(text + "x", token.key_hash)
    assert token.role == Role.OWNER  # the user's own role by default


def test_a_token_cannot_outrank_its_user(bob, tenant_a):
    with pytest.raises(ValidationError) as info:
        api_token_create(tenant=tenant_a, user=bob, name="ci", role=Role.ADMIN)
    assert "role" in info.value.message_dict


def test_token_names_are_unique_per_user_until_revoked(alice, tenant_a, alice_client):
    token, _text = api_token_create(tenant=tenant_a, user=alice, name="ci")
    with pytest.raises(ValidationError):
        api_token_create(tenant=tenant_a, user=alice, name="ci")
    alice_client.post(f"/api-tokens/{token.public_id}/revoke/")
    api_token_create(tenant=tenant_a, user=alice, name="ci")


def test_the_page_shows_a_new_token_once(alice_client, tenant_a):
    response = alice_client.post("/api-tokens/", {"name": "deploy", "role": "member", "expires_days": "30"})
    assert response.status_code == 200
    token = ApiToken.objects.get(name="deploy")
    page = response.content.decode()
    assert f'value="{token.prefix}_' in page
    assert response["Cache-Control"].startswith("max-age=0")
    again = alice_client.get("/api-tokens/").content.decode()
    assert "deploy" in again and f'value="{token.prefix}_' not in again
    assert token.expires_at is not None and token.role == Role.MEMBER
    event = AuditEvent.objects.get(action="api_token.created")
    assert event.actor.email == "alice@example.com"


def test_the_page_offers_only_roles_up_to_ones_own(bob_client):
    page = bob_client.get("/api-tokens/").content.decode()
    assert 'value="member"' in page and 'value="viewer"' in page
    assert 'value="owner"' not in page and 'value="admin"' not in page
    response = bob_client.post("/api-tokens/", {"name": "x", "role": "owner"})
    assert not ApiToken.objects.exists()
    assert response.status_code == 200


def test_the_page_shows_when_a_token_was_last_used(alice_client, alice, tenant_a, token_for):
    text = token_for(alice, tenant_a, name="ci")
    assert ApiToken.objects.get().last_used_at is None
    client_with(text).get("/api/v1/me/")
    assert ApiToken.objects.get().last_used_at is not None
    assert "never" in alice_client.get("/api-tokens/").content.decode()  # the expiry column


def test_members_see_only_their_own_tokens(bob_client, alice, bob, tenant_a, token_for):
    token_for(alice, tenant_a, name="alice-ci")
    token_for(bob, tenant_a, name="bob-ci")
    page = bob_client.get("/api-tokens/").content.decode()
    assert "bob-ci" in page and "alice-ci" not in page


def test_a_member_cannot_revoke_someone_elses_token(bob_client, alice, tenant_a):
    token, _ = api_token_create(tenant=tenant_a, user=alice, name="ci")
    assert bob_client.post(f"/api-tokens/{token.public_id}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_owners_revoke_their_members_tokens(alice_client, bob, tenant_a):
    token, text = api_token_create(tenant=tenant_a, user=bob, name="bob-deploy")
    assert "bob-deploy" in alice_client.get("/api-tokens/").content.decode()
    assert alice_client.post(f"/api-tokens/{token.public_id}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert client_with(text).get("/api/v1/me/").status_code == 401
    assert AuditEvent.objects.filter(action="api_token.revoked").exists()


def test_other_tenants_tokens_are_not_found(charlie_client, alice, tenant_a):
    token, _ = api_token_create(tenant=tenant_a, user=alice, name="alpha-deploy")
    assert charlie_client.post(f"/api-tokens/{token.public_id}/revoke/").status_code == 404
    assert "alpha-deploy" not in charlie_client.get("/api-tokens/").content.decode()


def test_revoking_needs_post(alice_client, alice, tenant_a):
    token, _ = api_token_create(tenant=tenant_a, user=alice, name="ci")
    assert alice_client.get(f"/api-tokens/{token.public_id}/revoke/").status_code == 405


def test_the_command_prints_a_working_token(alice, tenant_a):
    out, err = io.StringIO(), io.StringIO()
    call_command("api_token", "create", "--tenant", "alpha", "--user", "ALICE@example.com", "--name", "staff",
                 "--role", "viewer", "--expires", "7", stdout=out, stderr=err)
    text = out.getvalue().strip()
    me = client_with(text).get("/api/v1/me/").json()
    assert me["role"] == "viewer" and me["tenant"]["slug"] == "alpha" and me["token"]["name"] == "staff"
    token = ApiToken.objects.get()
    assert token.expires_at is not None
    assert AuditEvent.objects.get(action="api_token.created").actor_label == "manage.py api_token"


def test_the_command_lists_and_revokes(alice, tenant_a):
    token, _ = api_token_create(tenant=tenant_a, user=alice, name="ci")
    out = io.StringIO()
    call_command("api_token", "list", "--tenant", "alpha", stdout=out)
    assert token.prefix in out.getvalue() and "active" in out.getvalue()
    call_command("api_token", "revoke", token.prefix, stdout=io.StringIO())
    token.refresh_from_db()
    assert token.revoked_at is not None


@pytest.mark.parametrize(
    "args, message",
    [
        (["--tenant", "nope", "--user", "alice@example.com"], "No tenant"),
        (["--tenant", "alpha", "--user", "nobody@example.com"], "No user"),
        (["--tenant", "alpha", "--user", "charlie@example.com"], "not a member"),
        (["--tenant", "alpha", "--user", "bob@example.com", "--role", "owner"], "higher role"),
        (["--tenant", "alpha", "--user", "bob@example.com", "--expires", "0"], "between 1"),
    ],
)
def test_the_command_refuses_bad_input(tenant_a, charlie, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("api_token", "create", "--name", "x", *args, stdout=io.StringIO(), stderr=io.StringIO())


def test_removing_a_member_stops_their_tokens(alice, bob, tenant_a, token_for):
    text = token_for(bob, tenant_a)
    assert client_with(text).get("/api/v1/me/").status_code == 200
    Membership.objects.filter(user=bob).delete()
    response = client_with(text).get("/api/v1/me/")
    assert response.status_code == 401
    assert "no longer a member" in response.json()["detail"]
