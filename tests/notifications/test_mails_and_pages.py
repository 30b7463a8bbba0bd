"""Every template in both languages, the preferences page, allauth's mails branded, and the
layer rule: notifications imports no other app of the portal."""

import ast
from pathlib import Path

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse
from django.utils import translation

from notifications import actions as notification_actions
from notifications import mail as mails
from notifications.kinds import KINDS
from notifications.models import Delivery, Event, MailSettings, Preference
from tenants import actions as tenant_actions
from tenants.models import Invitation
from tests.conftest import PASSWORD, client_for, make_tenant

from .conftest import deliver
from .test_delivery import closed_port

pytestmark = pytest.mark.django_db

SAMPLE = {
    "server": "web-01", "path": "/servers/x/", "address": "192.0.2.10", "backup": "web-01 2026-12-01 02:00",
    "reason": "The build failed and everything reserved for it was released. JIKU's staff see the cause.",
    "from_node": "pve2", "to_node": "pve3", "subject": "Restore", "answer": "Done.", "state_label": "Done",
    "member": "eve@example.com", "role": "Member", "duty": "Backups", "by": "bob@example.com", "message": "Please.",
    "operation": "Create", "error": "storage 'local-lvm' is full", "number": "RE-2026-00001", "gross": "119.00",
    "due_date": "2026-12-17", "level": 1, "pay_by": "2026-12-31", "owed": "119.00", "node": "pve2", "cluster": "Test",
    "count": 2, "vmids": [4242, 4243], "credit_note": False, "servers": ["db", "web"], "note": "New disks.",
    "starts_at": "2030-01-05T22:00:00+01:00", "started_at": "2026-12-01T02:00:00+01:00",
    "inviter": "alice@example.com", "expires_at": "2026-12-08T12:00:00+01:00", "email": "eve@example.com",
    "company": "JIKU IT-Solutions GmbH", "revision": 2, "valid_by": "2027-01-02",
    "priority_label": "Critical", "response_hours": 8, "respond_by": "2026-12-01T10:00:00+01:00", "ends_at": "2030-01-06T02:00:00+01:00",
}


@pytest.mark.parametrize("kind", sorted(k for k, kind in KINDS.items() if kind.mail))
def test_every_template_renders_in_both_languages(kind, tenant_a):
    event = Event(tenant=tenant_a, kind=kind, payload=SAMPLE)
    rendered = {lang: mails.render(event, language=lang) for lang in ("de", "en")}
    for subject, text, html in rendered.values():
        assert subject.startswith("[JIKU Cloud] ") and len(subject) > 20 and "\n" not in subject
        assert "{" not in subject + text + html and "%(" not in subject + text + html
        assert "<html" in html
        # An invitee has no notification settings to be pointed to.
        assert ("http://127.0.0.1:8000/notifications/" in text) is not KINDS[kind].addressed
    (de_subject, de_text, _), (en_subject, en_text, _) = rendered["de"], rendered["en"]
    assert de_subject != en_subject and "Hallo," in de_text and "Hello," in en_text


def test_the_preferences_page_saves_choices_and_the_mail_language(tenant_a, bob):
    page = client_for(bob).get(reverse("notifications:preferences"))
    assert page.status_code == 200 and "Server build failed" in page.content.decode()
    assert "Operation failed" not in page.content.decode()  # a staff kind
    client_for(bob).post(reverse("notifications:preferences"), {"language": "de", "server_built": "on"})
    assert dict(Preference.objects.filter(user=bob).values_list("kind", "email"))["server_built"] is True
    assert dict(Preference.objects.filter(user=bob).values_list("kind", "email"))["server_build_failed"] is False
    assert MailSettings.objects.get(user=bob).language == "de"


def test_an_owner_sees_security_mails_locked_on(tenant_a, alice):
    client_for(alice).post(reverse("notifications:preferences"), {"language": "en"})
    assert not Preference.objects.filter(user=alice, kind="member_joined").exists()
    page = client_for(alice).get(reverse("notifications:preferences")).content.decode()
    assert "Owners always receive security e-mails." in page


def test_the_preferences_page_needs_a_login(client):
    assert client.get(reverse("notifications:preferences")).status_code == 302


def test_a_new_member_is_a_security_mail_to_the_owner(tenant_a, alice, charlie):
    invitation = Invitation.objects.create(tenant=tenant_a, email="charlie@example.com", token="t0k3n")
    assert EmailAddress.objects.filter(user=charlie, verified=True).exists()
    tenant_actions.invitation_accept(invitation=invitation, user=charlie, request=None)
    assert list(Event.objects.values_list("kind", flat=True)) == ["member_joined"]
    assert Event.objects.get().payload["member"] == "charlie@example.com"


def test_an_invitation_is_mailed_after_the_commit_with_its_subject_unescaped(alice, rf, settings):
    settings.SITE_URL = "https://portal.jiku.example"
    tenant = make_tenant("Neu & Söhne GmbH", "neu", owner=alice)
    with translation.override("en"):
        invitation = tenant_actions.invitation_create(tenant=tenant, email="eve@example.com", role="member",
                                                      invited_by=alice, request=rf.get("/", HTTP_HOST="127.0.0.1:8101"))
    assert mail.outbox == []  # an event now, a mail once a worker delivers it
    deliver()
    (message,) = mail.outbox
    assert message.to == ["eve@example.com"]
    assert message.subject == "[JIKU Cloud] Invitation to Neu & Söhne GmbH"
    assert "alice@example.com invites you to join Neu & Söhne GmbH on JIKU Cloud as Member." in message.body
    # The portal's configured address, not the host the inviter's browser used.
    assert f"https://portal.jiku.example/invitations/{invitation.token}/" in message.body
    assert "127.0.0.1" not in message.body and "/notifications/" not in message.body
    assert "Neu &amp; Söhne GmbH" in message.alternatives[0][0]


def test_an_invitation_is_in_the_inviters_language_or_the_invitees_own(alice, charlie, rf, tenant_a):
    with translation.override("de"):
        tenant_actions.invitation_create(tenant=tenant_a, email="eve@example.com", role="admin", invited_by=alice,
                                         request=rf.get("/"))
    MailSettings.objects.create(user=charlie, language="en")
    with translation.override("de"):
        tenant_actions.invitation_create(tenant=tenant_a, email="charlie@example.com", role="member",
                                         invited_by=alice, request=rf.get("/"))
    deliver()
    to_eve, to_charlie = (next(m for m in mail.outbox if m.to == [a]) for a in ("eve@example.com", "charlie@example.com"))
    assert to_eve.subject == "[JIKU Cloud] Einladung zu Alpha GmbH" and "als Admin" in to_eve.body
    assert to_charlie.subject == "[JIKU Cloud] Invitation to Alpha GmbH"


def test_an_invitation_revoked_while_the_mail_server_was_down_is_never_mailed(alice, tenant_a, rf, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port(), 2
    invitation = tenant_actions.invitation_create(tenant=tenant_a, email="eve@example.com", role="member",
                                                  invited_by=alice, request=rf.get("/"))
    deliver()
    delivery = Delivery.objects.get(address="eve@example.com")
    assert delivery.state == Delivery.State.PENDING and "Connection refused" in delivery.last_error
    tenant_actions.invitation_revoke(invitation=invitation, by=alice, request=rf.get("/"))
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # the mail server is back
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=None)
    assert notification_actions.delivery_send(delivery_id=delivery.pk) is False
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.LAPSED and mail.outbox == []
    # A new invitation to the same address is mailed as usual.
    tenant_actions.invitation_create(tenant=tenant_a, email="eve@example.com", role="admin", invited_by=alice,
                                     request=rf.get("/"))
    deliver()
    assert [m.to for m in mail.outbox] == [["eve@example.com"]] and "as Admin" in mail.outbox[0].body


def test_allauths_mails_carry_the_portals_name_and_address_not_the_request_host(client, alice, settings):
    settings.SITE_URL = "https://portal.jiku.example"
    client.post(reverse("account_reset_password"), {"email": "alice@example.com"}, HTTP_HOST="127.0.0.1")
    message = mail.outbox[0]
    assert message.subject.startswith("[JIKU Cloud] ")
    assert "JIKU Cloud" in message.body and "Hello from 127.0.0.1" not in message.body
    assert "https://portal.jiku.example/accounts/password/reset/key/" in message.body
    assert "127.0.0.1" not in message.body
    html = message.alternatives[0][0]
    assert "JIKU Cloud" in html and '<a href="https://portal.jiku.example/accounts/password/reset/key/' in html


def test_allauths_mails_are_in_the_users_mail_language_not_the_pages(client, alice, bob):
    MailSettings.objects.create(user=alice, language="de")
    client.post(reverse("account_reset_password"), {"email": "alice@example.com"}, HTTP_ACCEPT_LANGUAGE="en")
    german = mail.outbox[0]
    client.post(reverse("account_reset_password"), {"email": "bob@example.com"}, HTTP_ACCEPT_LANGUAGE="en")
    assert "Hallo von JIKU Cloud!" in german.body and german.subject != mail.outbox[-1].subject


def test_a_changed_password_is_told_to_the_user_in_a_branded_security_mail(alice):
    MailSettings.objects.create(user=alice, language="en")
    response = client_for(alice).post(reverse("account_change_password"), {
        "oldpassword": PASSWORD, "password1": "another-long-passphrase-8", "password2": "another-long-passphrase-8"})
    assert response.status_code == 302
    (message,) = mail.outbox
    assert message.to == ["alice@example.com"] and message.subject.startswith("[JIKU Cloud] ")
    assert "password" in message.subject.lower() and "IP address" in message.body
    assert "JIKU Cloud" in message.alternatives[0][0]


ROOT = Path(__file__).resolve().parents[2]
APPS = {"portal", "billing", "services", "provisioning", "tenants", "pvesim"}


def test_notifications_imports_no_other_app():
    """DESIGN.md 2: it sits at the bottom beside tenants; every app may record an event."""
    wrong = []
    for path in (ROOT / "notifications").rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
            wrong += [f"{path.relative_to(ROOT)} imports {n}" for n in names if n.split(".")[0] in APPS]
    assert wrong == []
