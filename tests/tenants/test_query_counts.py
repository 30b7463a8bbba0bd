"""List pages cost the same number of queries for one row as for many."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tenants.models import Invitation, Membership, Role, SSHKey
from tests.conftest import make_user

from .keys import ed25519_key

PAGES = ["tenants:team", "tenants:ssh_keys"]


def add_rows(tenant, alice, numbers):
    for i in numbers:
        user = make_user(f"user{i}@example.com")
        Membership.objects.create(tenant=tenant, user=user, role=Role.VIEWER)
        SSHKey.objects.create(tenant=tenant, user=user, name=f"k{i}", key_type="ssh-ed25519",
                              public_key=ed25519_key(), fingerprint=f"SHA256:{i}")
        Invitation.objects.create(tenant=tenant, email=f"new{i}@example.com", invited_by=alice, token=f"tok{i}")


def query_count(client, url):
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_team_and_key_pages_do_not_grow_with_rows(alice_client, tenant_a, alice):
    add_rows(tenant_a, alice, range(1))
    few = {page: query_count(alice_client, reverse(page)) for page in PAGES}
    add_rows(tenant_a, alice, range(1, 15))
    many = {page: query_count(alice_client, reverse(page)) for page in PAGES}
    assert many == few
