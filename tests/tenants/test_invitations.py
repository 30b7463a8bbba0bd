import pytest
from allauth.account.models import EmailAddress
from django.urls import reverse
from django.utils import timezone

from tenants.models import AuditEvent, Invitation, Membership, Role
from tests.conftest import PASSWORD, make_user


@pytest.fixture
def invitation(tenant_a, alice):
    return Invitation.objects.create(
        tenant=tenant_a, email="dora@example.com", role=Role.ADMIN, invited_by=alice, token="t" * 43
    )


def url(invitation):
    return reverse("tenants:invitation_accept", args=[invitation.token])


def test_an_unknown_token_is_404(client, db):
    assert client.get(reverse("tenants:invitation_accept", args=["nope"])).status_code == 404


def test_anonymous_visitors_are_sent_to_sign_up_with_the_token_kept(client, invitation):
    response = client.get(url(invitation))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_signup"))
    assert "dora%40example.com" in response["Location"]
    assert client.session["invitation_token"] == invitation.token
    assert Membership.objects.filter(user__email="dora@example.com").count() == 0


def test_anonymous_visitors_with_an_account_are_sent_to_sign_in(client, invitation):
    make_user("dora@example.com")
    response = client.get(url(invitation))
    assert response["Location"].startswith(reverse("account_login"))


def test_signing_in_returns_to_the_invitation(client, invitation):
    make_user("dora@example.com")
    client.get(url(invitation))
    response = client.post(reverse("account_login"), {"login": "dora@example.com", "password": PASSWORD})
    assert response["Location"] == url(invitation)


def test_signing_up_from_an_invitation_needs_no_second_verification(client, invitation):
    client.get(url(invitation))
    response = client.post(
        reverse("account_signup"),
        {"email": "dora@example.com", "password1": "a-long-passphrase-7", "password2": "a-long-passphrase-7"},
    )
    assert response["Location"] == url(invitation)
    assert EmailAddress.objects.get(email="dora@example.com").verified


def test_the_invitee_accepts_and_becomes_a_member_with_the_role(client, invitation, tenant_a):
    dora = make_user("dora@example.com")
    client.force_login(dora)
    page = client.get(url(invitation))
    assert "Accept" in page.content.decode() or "annehmen" in page.content.decode()
    response = client.post(url(invitation))
    assert response.status_code == 302
    assert Membership.objects.get(user=dora, tenant=tenant_a).role == Role.ADMIN
    invitation.refresh_from_db()
    assert invitation.accepted_at is not None
    assert client.session["tenant_id"] == tenant_a.pk
    event = AuditEvent.objects.get(action="invitation.accepted")
    assert (event.actor, event.tenant, event.ip) == (dora, tenant_a, "127.0.0.1")


def test_an_expired_invitation_creates_nothing(client, invitation):
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timezone.timedelta(minutes=1))
    dora = make_user("dora@example.com")
    client.force_login(dora)
    response = client.post(url(invitation))
    assert response.status_code == 200
    assert "expired" in response.content.decode()
    assert not Membership.objects.filter(user=dora).exists()


def test_an_accepted_invitation_cannot_be_used_again(client, invitation):
    Invitation.objects.filter(pk=invitation.pk).update(accepted_at=timezone.now())
    eve = make_user("eve@example.com")
    EmailAddress.objects.create(user=eve, email="dora@example.com", verified=True)
    client.force_login(eve)
    response = client.post(url(invitation))
    assert "already been used" in response.content.decode()
    assert not Membership.objects.filter(user=eve).exists()


def test_an_invitation_for_another_address_is_refused(client, invitation, charlie):
    client.force_login(charlie)
    response = client.post(url(invitation))
    assert response.status_code == 200
    assert "dora@example.com" in response.content.decode()
    assert not Membership.objects.filter(user=charlie, tenant=invitation.tenant).exists()
    assert Invitation.objects.get(pk=invitation.pk).accepted_at is None


def test_an_unverified_matching_address_is_not_enough(client, invitation):
    dora = make_user("dora@example.com")
    EmailAddress.objects.filter(user=dora).update(verified=False)
    client.force_login(dora)
    client.post(url(invitation))
    assert not Membership.objects.filter(user=dora).exists()


def test_viewing_the_invitation_clears_the_pending_token(client, invitation, charlie):
    client.get(url(invitation))
    client.force_login(charlie)
    client.get(url(invitation))
    assert "invitation_token" not in client.session
