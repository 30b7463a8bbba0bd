"""SSH keys over the API: same parsing, same rules, same audit as the SSH keys page."""

from tenants.models import SSHKey
from tests.tenants.keys import ed25519_key


def test_alice_adds_lists_and_deletes_a_key(alice_api):
    response = alice_api.post("/api/v1/ssh-keys/", {"public_key": ed25519_key("alice@laptop")}, format="json")
    assert response.status_code == 201
    key = response.json()
    assert key["name"] == "alice@laptop" and key["fingerprint"].startswith("SHA256:")
    assert key["added_by"] == "alice@example.com"
    assert [k["id"] for k in alice_api.get("/api/v1/ssh-keys/").json()["results"]] == [key["id"]]
    assert alice_api.get(f"/api/v1/ssh-keys/{key['id']}/").json()["name"] == "alice@laptop"
    assert alice_api.delete(f"/api/v1/ssh-keys/{key['id']}/").status_code == 204
    assert not SSHKey.objects.exists()


def test_bad_keys_name_the_field(alice_api):
    response = alice_api.post("/api/v1/ssh-keys/", {"public_key": "ssh-ed25519 AAAA"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and list(body["errors"]) == ["public_key"]
    assert alice_api.post("/api/v1/ssh-keys/", {}, format="json").json()["errors"]["public_key"]


def test_a_duplicate_key_is_refused(alice_api):
    line = ed25519_key()
    alice_api.post("/api/v1/ssh-keys/", {"public_key": line}, format="json")
    response = alice_api.post("/api/v1/ssh-keys/", {"public_key": line, "name": "again"}, format="json")
    assert response.status_code == 400 and "already stored" in response.json()["errors"]["public_key"][0]


def test_charlie_cannot_see_or_delete_alices_keys(alice_api, charlie_api):
    key = alice_api.post("/api/v1/ssh-keys/", {"public_key": ed25519_key()}, format="json").json()
    assert charlie_api.get(f"/api/v1/ssh-keys/{key['id']}/").status_code == 404
    assert charlie_api.delete(f"/api/v1/ssh-keys/{key['id']}/").status_code == 404
    assert charlie_api.get("/api/v1/ssh-keys/").json()["count"] == 0


def test_bob_may_not_delete_alices_key_but_his_own(alice_api, bob_api):
    alices = alice_api.post("/api/v1/ssh-keys/", {"public_key": ed25519_key()}, format="json").json()
    bobs = bob_api.post("/api/v1/ssh-keys/", {"public_key": ed25519_key("bob")}, format="json").json()
    assert bob_api.delete(f"/api/v1/ssh-keys/{alices['id']}/").status_code == 403
    assert bob_api.delete(f"/api/v1/ssh-keys/{bobs['id']}/").status_code == 204


def test_an_admin_with_a_member_token_may_not_delete_others_keys(alice, tenant_a, api_for, bob_api):
    bobs = bob_api.post("/api/v1/ssh-keys/", {"public_key": ed25519_key("bob")}, format="json").json()
    member_token = api_for(alice, tenant_a, role="member", name="limited")
    assert member_token.delete(f"/api/v1/ssh-keys/{bobs['id']}/").status_code == 403
    assert SSHKey.objects.count() == 1


def test_a_retried_create_with_the_same_idempotency_key_adds_one_key(alice_api):
    body = {"public_key": ed25519_key()}
    first = alice_api.post("/api/v1/ssh-keys/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = alice_api.post("/api/v1/ssh-keys/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert SSHKey.objects.count() == 1
    other = alice_api.post("/api/v1/ssh-keys/", {"public_key": ed25519_key()}, format="json",
                           HTTP_IDEMPOTENCY_KEY="k-1")
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"


def test_idempotency_keys_belong_to_one_token(alice_api, charlie_api):
    assert alice_api.post("/api/v1/ssh-keys/", {"public_key": ed25519_key()}, format="json",
                          HTTP_IDEMPOTENCY_KEY="same").status_code == 201
    assert charlie_api.post("/api/v1/ssh-keys/", {"public_key": ed25519_key()}, format="json",
                            HTTP_IDEMPOTENCY_KEY="same").status_code == 201
    assert SSHKey.objects.count() == 2


def test_a_failed_request_does_not_use_up_its_idempotency_key(alice_api):
    assert alice_api.post("/api/v1/ssh-keys/", {"public_key": "x"}, format="json",
                          HTTP_IDEMPOTENCY_KEY="retry-me").status_code == 400
    assert alice_api.post("/api/v1/ssh-keys/", {"public_key": ed25519_key()}, format="json",
                          HTTP_IDEMPOTENCY_KEY="retry-me").status_code == 201


def test_a_malformed_idempotency_key_is_refused(alice_api):
    response = alice_api.post("/api/v1/ssh-keys/", {"public_key": ed25519_key()}, format="json",
                              HTTP_IDEMPOTENCY_KEY="x" * 256)
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["errors"]


def test_idempotency_keys_expire_after_a_day(alice_api):
    from django.utils import timezone

    from portal.api.models import IdempotencyRecord

    assert alice_api.post("/api/v1/ssh-keys/", {"public_key": ed25519_key()}, format="json",
                          HTTP_IDEMPOTENCY_KEY="daily").status_code == 201
    IdempotencyRecord.objects.update(created_at=timezone.now() - timezone.timedelta(hours=25))
    assert alice_api.post("/api/v1/ssh-keys/", {"public_key": ed25519_key()}, format="json",
                          HTTP_IDEMPOTENCY_KEY="daily").status_code == 201
    assert SSHKey.objects.count() == 2 and IdempotencyRecord.objects.count() == 1
