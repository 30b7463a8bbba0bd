"""The role matrix as the pages enforce it: what each role may open and change."""

import pytest
from django.urls import reverse

from tenants.models import ROLE_PERMISSIONS, Role

from .keys import ed25519_key

PAGES = {  # page -> permission needed to open it
    "team": "view",
    "ssh_keys": "view",
    "audit": "audit",
    "settings": "manage_tenant",
}


def test_each_role_holds_exactly_its_permissions():
    assert ROLE_PERMISSIONS[Role.VIEWER] == {"view"}
    assert ROLE_PERMISSIONS[Role.MEMBER] == {"view", "operate"}
    assert ROLE_PERMISSIONS[Role.ADMIN] == {"view", "operate", "manage_team", "audit"}
    assert ROLE_PERMISSIONS[Role.OWNER] == ROLE_PERMISSIONS[Role.ADMIN] | {"manage_tenant"}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("page", list(PAGES))
def test_pages_open_for_the_roles_allowed(member_client, role, page):
    expected = 200 if PAGES[page] in ROLE_PERMISSIONS[role] else 403
    assert member_client(role).get(reverse(f"tenants:{page}")).status_code == expected


@pytest.mark.parametrize("role", list(Role))
def test_who_may_invite_and_add_keys(member_client, role):
    client = member_client(role)
    invite = client.post(reverse("tenants:team"), {"email": "dora@example.com", "role": "viewer"})
    key = client.post(reverse("tenants:ssh_keys"), {"public_key": ed25519_key(), "name": "k"})
    can = ROLE_PERMISSIONS[role]
    assert invite.status_code == (302 if "manage_team" in can else 403)
    assert key.status_code == (302 if "operate" in can else 403)
