import re
import time

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.core import mail
from playwright.sync_api import expect

from tenants import actions
from tenants.models import Membership, Role, Tenant
from tests.conftest import PASSWORD, make_tenant
from tests.notifications.outbox import deliver
from tests.tenants.keys import ed25519_key

from .conftest import link_in_last_mail, screenshot

pytestmark = pytest.mark.e2e
EMAIL = "dora@example.com"
SECRET = "a-long-passphrase-7"


def totp_code(secret):
    """The authenticator app's current code; never one about to expire on its way to the server."""
    if 30 - time.time() % 30 < 2:
        time.sleep(2)
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def sign_in(page, email, password):
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    page.click("main form button[type=submit]")


def test_sign_up_verify_create_tenant_enable_totp_and_sign_in_again(page, live_server, settings):
    settings.SITE_URL = live_server.url  # mails link to the portal's configured address
    page.goto("/accounts/signup/")
    screenshot(page, "signup")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password1]", SECRET)
    page.fill("input[name=password2]", SECRET)
    page.click("main form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/accounts/confirm-email/$"))

    page.goto(link_in_last_mail(EMAIL, r"https?://\S+/accounts/confirm-email/\S+"))
    page.click("main form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/welcome/$"))
    screenshot(page, "onboarding")
    page.fill("input[name=name]", "Dora Bakery")
    page.click("main form button[type=submit]")
    expect(page).to_have_url(live_server.url + "/")
    expect(page.locator("main")).to_contain_text("Dora Bakery")
    assert Membership.objects.get(user__email=EMAIL, tenant__name="Dora Bakery").role == Role.OWNER

    page.goto("/accounts/2fa/totp/activate/")
    page.fill("input[name=password]", SECRET)  # allauth re-asks the password before MFA changes
    page.click("main form button[type=submit]")
    secret = page.input_value("#authenticator_secret")
    screenshot(page, "totp-activate")
    page.fill("input[name=code]", f"{(int(totp_code(secret)) + 1) % 1_000_000:06}")
    page.click("main form button[type=submit]")
    expect(page.locator("#id_code_error")).to_be_visible()  # a wrong code is refused at its field
    page.fill("input[name=code]", totp_code(secret))
    page.click("main form button[type=submit]")
    expect(page.locator(".messages")).to_be_visible()
    screenshot(page, "totp-activated")

    page.click("header button:has-text('Log out')")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    sign_in(page, EMAIL, SECRET)
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/$"))
    screenshot(page, "mfa-authenticate")
    page.fill("input[name=code]", totp_code(secret))
    page.click("main form button[type=submit]")
    expect(page).to_have_url(live_server.url + "/")
    expect(page.locator("main")).to_contain_text("Dora Bakery")
    screenshot(page, "dashboard")


def test_an_invited_user_accepts_in_the_browser(page, live_server, settings, alice, bob):
    settings.SITE_URL = live_server.url
    tenant = make_tenant("Alpha GmbH", "alpha", owner=alice)
    actions.invitation_create(tenant=tenant, email=bob.email, role=Role.MEMBER, invited_by=alice, request=None)
    deliver()  # the worker's part: the invitation is a notification
    assert len(mail.outbox) == 1

    page.goto(link_in_last_mail(bob.email))
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    sign_in(page, bob.email, PASSWORD)
    expect(page).to_have_url(re.compile(r"/invitations/"))
    screenshot(page, "invitation")
    page.click("main form button[type=submit]")
    expect(page).to_have_url(live_server.url + "/")
    expect(page.locator("main")).to_contain_text("Alpha GmbH")
    assert Membership.objects.get(user=bob, tenant=tenant).role == Role.MEMBER
    assert Tenant.objects.count() == 1


def test_an_owner_manages_team_and_keys_in_the_browser(page, live_server, alice, bob):
    tenant = make_tenant("Alpha GmbH", "alpha", owner=alice)
    Membership.objects.create(tenant=tenant, user=bob, role=Role.MEMBER)
    page.goto("/accounts/login/")
    sign_in(page, alice.email, PASSWORD)
    expect(page).to_have_url(live_server.url + "/")

    page.goto("/team/")
    page.fill("input[name=email]", bob.email)
    page.click("text=Send invitation")
    expect(page.locator("#id_email_error")).to_contain_text("already a member")
    page.fill("input[name=email]", "dora@example.com")
    page.select_option("select[name=role]", "viewer")
    page.click("text=Send invitation")
    expect(page.locator("main")).to_contain_text("dora@example.com")
    screenshot(page, "team")

    page.goto("/ssh-keys/")
    page.fill("textarea[name=public_key]", "ssh-ed25519 not-base64!")
    page.click("text=Add key")
    expect(page.locator("#id_public_key_error")).to_be_visible()
    page.fill("textarea[name=public_key]", ed25519_key("alice@laptop"))
    page.click("text=Add key")
    expect(page.locator("main table")).to_contain_text("alice@laptop")
    expect(page.locator("main table")).to_contain_text("SHA256:")
    screenshot(page, "ssh-keys")
