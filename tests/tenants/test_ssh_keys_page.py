import pytest
from django.urls import reverse

from tenants.models import AuditEvent, Role, SSHKey

from .keys import ed25519_key, line, rsa_key, wire

URL = reverse("tenants:ssh_keys")


def add(client, public_key, name=""):
    return client.post(URL, {"public_key": public_key, "name": name})


def test_members_add_a_key_named_after_its_comment(bob_client, tenant_a, bob):
    text = ed25519_key("bob@desk")
    response = add(bob_client, text)
    assert response.status_code == 302
    key = SSHKey.objects.get(tenant=tenant_a)
    assert (key.name, key.key_type, key.user, key.public_key) == ("bob@desk", "ssh-ed25519", bob, text)
    page = bob_client.get(URL).content.decode()
    assert key.fingerprint in page and "bob@example.com" in page


def test_an_explicit_name_wins_over_the_comment(alice_client, tenant_a):
    add(alice_client, ed25519_key("alice@laptop"), name="Laptop")
    assert SSHKey.objects.get(tenant=tenant_a).name == "Laptop"


def test_a_key_without_comment_needs_a_name(alice_client, tenant_a):
    response = add(alice_client, ed25519_key(comment=""))
    assert response.status_code == 200
    assert "name" in response.context["form"].errors
    assert SSHKey.objects.count() == 0


@pytest.mark.parametrize(
    "text",
    [
        "ssh-ed25519 %%%notbase64%%% x",
        "ssh-dss AAAAB3NzaC1kc3MAAACBAP x",
        line("ssh-rsa", wire(b"ssh-ed25519", b"\x01" * 32), "mismatch"),
        "this is not a key",
        "",
    ],
    ids=["bad-base64", "wrong-type", "type-mismatch", "garbage", "empty"],
)
def test_malformed_keys_are_rejected_at_the_field(alice_client, text):
    response = add(alice_client, text, name="x")
    assert response.status_code == 200
    assert response.context["form"].errors["public_key"]
    assert SSHKey.objects.count() == 0
    assert not AuditEvent.objects.filter(action="ssh_key.added").exists()


def test_short_rsa_keys_are_rejected_with_their_size(alice_client):
    response = add(alice_client, rsa_key(1024))
    assert "1024" in response.context["form"].errors["public_key"][0]
    assert SSHKey.objects.count() == 0


def test_a_duplicate_key_names_the_stored_one(alice_client, bob_client, tenant_a):
    text = ed25519_key()
    add(alice_client, text, name="Alice laptop")
    response = add(bob_client, text.rsplit(" ", 1)[0] + " other-comment")
    assert response.context["form"].errors["public_key"] == ["This key is already stored as 'Alice laptop'."]
    assert SSHKey.objects.count() == 1


def test_the_same_key_may_live_in_two_tenants(alice_client, charlie_client):
    text = ed25519_key()
    add(alice_client, text)
    add(charlie_client, text)
    assert SSHKey.objects.count() == 2


def test_a_viewer_cannot_add_or_delete(member_client, alice_client, tenant_a):
    add(alice_client, ed25519_key())
    key = SSHKey.objects.get()
    viewer = member_client(Role.VIEWER)
    assert viewer.get(URL).status_code == 200
    assert add(viewer, ed25519_key()).status_code == 403
    assert viewer.post(reverse("tenants:ssh_key_delete", args=[key.id])).status_code == 403
    assert SSHKey.objects.count() == 1


def test_members_delete_their_own_keys_but_not_others(alice_client, bob_client):
    add(alice_client, ed25519_key(), name="alice")
    add(bob_client, ed25519_key(), name="bob")
    alices, bobs = SSHKey.objects.get(name="alice"), SSHKey.objects.get(name="bob")
    assert bob_client.post(reverse("tenants:ssh_key_delete", args=[alices.id])).status_code == 403
    assert bob_client.post(reverse("tenants:ssh_key_delete", args=[bobs.id])).status_code == 302
    assert list(SSHKey.objects.values_list("name", flat=True)) == ["alice"]


def test_owners_delete_any_key_and_it_is_audited(alice_client, bob_client, alice):
    add(bob_client, ed25519_key(), name="bob")
    key = SSHKey.objects.get()
    assert alice_client.post(reverse("tenants:ssh_key_delete", args=[key.id])).status_code == 302
    assert not SSHKey.objects.exists()
    event = AuditEvent.objects.get(action="ssh_key.deleted")
    assert (event.actor, event.object_id, event.details["fingerprint"]) == (alice, str(key.id), key.fingerprint)
