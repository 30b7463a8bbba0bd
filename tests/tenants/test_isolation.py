"""Charlie (owner of Bravo, so every permission there) aims at Alpha's objects: always 404."""

import pytest
from django.urls import reverse

from tenants.actions import api_token_create
from tenants.models import Invitation, Membership, Role, SSHKey, Tenant

from .keys import ed25519_key


@pytest.fixture
def alphas_objects(tenant_a, alice, bob):
    invitation = Invitation.objects.create(tenant=tenant_a, email="dora@example.com", role=Role.MEMBER, token="x" * 43)
    key = SSHKey.objects.create(tenant=tenant_a, user=alice, name="k", key_type="ssh-ed25519",
                                public_key=ed25519_key(), fingerprint="SHA256:alpha")
    token, _text = api_token_create(tenant=tenant_a, user=alice, name="alpha-ci")
    return {
        "member_role": [Membership.objects.get(user=bob).public_id],
        "member_remove": [Membership.objects.get(user=bob).public_id],
        "invitation_revoke": [invitation.id],
        "ssh_key_delete": [key.id],
        "api_token_revoke": [token.public_id],
    }


@pytest.mark.parametrize("name", ["member_role", "member_remove", "invitation_revoke", "ssh_key_delete", "api_token_revoke"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_other_tenants_objects_answer_404(charlie_client, alphas_objects, name, method):
    before = (Membership.objects.count(), Invitation.objects.count(), SSHKey.objects.count())
    url = reverse(f"tenants:{name}", args=alphas_objects[name])
    response = getattr(charlie_client, method)(url, {"role": Role.OWNER} if method == "post" else None)
    assert response.status_code == 404
    assert (Membership.objects.count(), Invitation.objects.count(), SSHKey.objects.count()) == before


def test_every_object_url_of_the_app_is_covered(alphas_objects):
    from tenants.urls import urlpatterns

    with_ids = {p.name for p in urlpatterns if p.pattern.converters and p.name != "invitation_accept"}
    # invitation_accept is addressed by a secret token meant for whoever holds it (tested separately).
    assert with_ids == set(alphas_objects)


def test_tenant_pages_show_only_the_own_tenant(charlie_client, alphas_objects):
    for name in ["team", "ssh_keys", "audit", "settings"]:
        page = charlie_client.get(reverse(f"tenants:{name}")).content.decode()
        assert "alice@example.com" not in page and "bob@example.com" not in page and "Alpha" not in page


def test_switching_into_alpha_is_404(charlie_client, tenant_a):
    assert charlie_client.post(reverse("tenants:switch"), {"tenant": tenant_a.slug}).status_code == 404
    assert Tenant.objects.get(pk=tenant_a.pk).memberships.filter(user__email="charlie@example.com").count() == 0
