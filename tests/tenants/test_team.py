import pytest
from django.core import mail
from django.urls import reverse

from tenants.models import AuditEvent, Invitation, Membership, Role
from tests.conftest import make_user
from tests.notifications.outbox import deliver

TEAM = reverse("tenants:team")


def role_url(membership):
    return reverse("tenants:member_role", args=[membership.public_id])


def remove_url(membership):
    return reverse("tenants:member_remove", args=[membership.public_id])


def set_role(client, membership, role):
    return client.post(role_url(membership), {f"{membership.public_id}-role": role})


def test_the_team_page_lists_members_with_roles(bob_client):
    page = bob_client.get(TEAM).content.decode()
    assert "alice@example.com" in page and "bob@example.com" in page
    assert "Send invitation" not in page and "Einladung senden" not in page


def test_owners_invite_by_email_with_a_role(alice_client, tenant_a, alice):
    response = alice_client.post(TEAM, {"email": "Dora@Example.com", "role": Role.ADMIN})
    assert response.status_code == 302
    invitation = Invitation.objects.get(tenant=tenant_a)
    assert (invitation.email, invitation.role, invitation.invited_by) == ("dora@example.com", Role.ADMIN, alice)
    assert len(invitation.token) >= 43
    deliver()  # the worker's part: the invitation is a notification (tests/notifications)
    assert mail.outbox[0].to == ["dora@example.com"]
    assert f"/invitations/{invitation.token}/" in mail.outbox[0].body
    assert AuditEvent.objects.filter(action="invitation.created", tenant=tenant_a, actor=alice).exists()


def test_inviting_an_existing_member_is_refused(alice_client, tenant_a):
    response = alice_client.post(TEAM, {"email": "BOB@example.com", "role": Role.MEMBER})
    assert response.status_code == 200
    assert "already a member" in response.context["invite_form"].errors["email"][0]
    assert Invitation.objects.count() == 0 and mail.outbox == []


def test_a_second_open_invitation_for_the_same_email_is_refused(alice_client):
    alice_client.post(TEAM, {"email": "dora@example.com", "role": Role.MEMBER})
    response = alice_client.post(TEAM, {"email": "dora@example.com", "role": Role.ADMIN})
    assert "open invitation" in response.context["invite_form"].errors["email"][0]
    deliver()
    assert Invitation.objects.count() == 1 and len(mail.outbox) == 1


def test_an_expired_invitation_can_be_sent_again(alice_client, tenant_a):
    from django.utils import timezone

    alice_client.post(TEAM, {"email": "dora@example.com", "role": Role.MEMBER})
    Invitation.objects.update(expires_at=timezone.now() - timezone.timedelta(seconds=1))
    assert alice_client.post(TEAM, {"email": "dora@example.com", "role": Role.MEMBER}).status_code == 302
    assert Invitation.objects.get().is_open


def test_an_invalid_email_is_shown_at_the_field(alice_client):
    response = alice_client.post(TEAM, {"email": "not-an-email", "role": Role.MEMBER})
    assert response.context["invite_form"].errors["email"]
    assert Invitation.objects.count() == 0


def test_admins_cannot_invite_owners(member_client):
    admin = member_client(Role.ADMIN)
    response = admin.post(TEAM, {"email": "dora@example.com", "role": Role.OWNER})
    assert "Only owners" in response.context["invite_form"].errors["role"][0]
    assert Invitation.objects.count() == 0


def test_open_invitations_are_listed_and_revocable(alice_client, tenant_a):
    alice_client.post(TEAM, {"email": "dora@example.com", "role": Role.MEMBER})
    invitation = Invitation.objects.get()
    assert "dora@example.com" in alice_client.get(TEAM).content.decode()
    response = alice_client.post(reverse("tenants:invitation_revoke", args=[invitation.id]))
    assert response.status_code == 302
    assert Invitation.objects.count() == 0
    assert AuditEvent.objects.filter(action="invitation.revoked", tenant=tenant_a).exists()


def test_owners_change_roles(alice_client, tenant_a, bob):
    bobs = Membership.objects.get(user=bob)
    assert set_role(alice_client, bobs, Role.ADMIN).status_code == 302
    bobs.refresh_from_db()
    assert bobs.role == Role.ADMIN
    event = AuditEvent.objects.get(action="membership.role_changed")
    assert event.details == {"user": "bob@example.com", "from": "member", "to": "admin"}


def test_the_last_owner_cannot_be_demoted(alice_client, alice):
    own = Membership.objects.get(user=alice)
    response = set_role(alice_client, own, Role.ADMIN)
    assert response.status_code == 200
    assert "last owner" in response.content.decode()
    own.refresh_from_db()
    assert own.role == Role.OWNER


def test_the_last_owner_cannot_leave(alice_client, alice, tenant_a):
    response = alice_client.post(reverse("tenants:leave"))
    assert response.status_code == 200
    assert "last owner" in response.content.decode()
    assert Membership.objects.filter(user=alice, tenant=tenant_a).exists()


def test_the_last_owner_cannot_be_removed_even_by_herself(alice_client, alice):
    own = Membership.objects.get(user=alice)
    response = alice_client.post(remove_url(own))
    assert response.status_code == 200
    assert Membership.objects.filter(pk=own.pk).exists()


def test_with_a_second_owner_an_owner_may_leave(alice_client, alice, bob, tenant_a):
    Membership.objects.filter(user=bob).update(role=Role.OWNER)
    assert alice_client.post(reverse("tenants:leave")).status_code == 302
    assert not Membership.objects.filter(user=alice, tenant=tenant_a).exists()
    assert AuditEvent.objects.filter(action="membership.left", actor=alice).exists()


def test_admins_cannot_make_someone_owner(member_client, bob):
    admin = member_client(Role.ADMIN)
    bobs = Membership.objects.get(user=bob)
    response = set_role(admin, bobs, Role.OWNER)
    assert response.status_code == 200
    assert "Only owners" in response.content.decode()
    bobs.refresh_from_db()
    assert bobs.role == Role.MEMBER


def test_admins_cannot_demote_or_remove_owners(member_client, alice, tenant_a):
    admin = member_client(Role.ADMIN)
    # A second owner, so that only the admin rule (not the last-owner rule) can refuse.
    Membership.objects.create(tenant=tenant_a, user=make_user("olga@example.com"), role=Role.OWNER)
    alices = Membership.objects.get(user=alice)
    assert "Only owners" in set_role(admin, alices, Role.VIEWER).content.decode()
    assert "Only owners" in admin.post(remove_url(alices)).content.decode()
    alices.refresh_from_db()
    assert alices.role == Role.OWNER


def test_admins_remove_members(member_client, bob, tenant_a):
    admin = member_client(Role.ADMIN)
    assert admin.post(remove_url(Membership.objects.get(user=bob))).status_code == 302
    assert not Membership.objects.filter(user=bob, tenant=tenant_a).exists()
    assert AuditEvent.objects.filter(action="membership.removed", actor=admin.user).exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER])
def test_viewers_and_members_cannot_change_the_team(member_client, role, alice, bob):
    client = member_client(role)
    bobs = Membership.objects.get(user=bob)
    before = list(Membership.objects.values_list("pk", "role").order_by("pk"))
    assert client.post(TEAM, {"email": "dora@example.com", "role": Role.MEMBER}).status_code == 403
    assert set_role(client, bobs, Role.ADMIN).status_code == 403
    assert client.post(remove_url(bobs)).status_code == 403
    assert list(Membership.objects.values_list("pk", "role").order_by("pk")) == before
    assert Invitation.objects.count() == 0


def test_a_viewer_may_leave(member_client, tenant_a):
    viewer = member_client(Role.VIEWER)
    assert viewer.post(reverse("tenants:leave")).status_code == 302
    assert not Membership.objects.filter(user=viewer.user).exists()


def test_post_only_urls_refuse_get(alice_client, bob):
    bobs = Membership.objects.get(user=bob)
    assert alice_client.get(remove_url(bobs)).status_code == 405
    assert Membership.objects.filter(pk=bobs.pk).exists()
