"""allauth's pages render inside the portal layout, with errors next to their fields."""

import pytest
from django.urls import reverse

from tests.conftest import PASSWORD

BRAND = 'class="brand"'


@pytest.mark.parametrize(
    "name", ["account_login", "account_signup", "account_reset_password", "account_reset_password_done",
             "account_email_verification_sent"],
)
def test_public_account_pages_use_the_portal_layout(client, db, name):
    page = client.get(reverse(name)).content.decode()
    assert BRAND in page and 'class="footer"' in page
    assert "Menu:" not in page  # allauth's bare default layout


@pytest.fixture
def signed_in(client, tenant_a):
    client.post(reverse("account_login"), {"login": "alice@example.com", "password": PASSWORD})
    # allauth asks for the password again before any two-factor change, even right after sign-in.
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    return client


@pytest.mark.parametrize("name", ["account_email", "account_change_password", "mfa_index", "mfa_activate_totp",
                                  "account_logout", "account_reauthenticate"])
def test_account_pages_for_signed_in_users_use_the_portal_layout(signed_in, name):
    response = signed_in.get(reverse(name))
    assert response.status_code == 200
    page = response.content.decode()
    assert BRAND in page and "Menu:" not in page


def test_the_totp_page_shows_the_secret_and_the_account_navigation(signed_in):
    page = signed_in.get(reverse("mfa_activate_totp")).content.decode()
    assert 'id="authenticator_secret"' in page
    assert reverse("mfa_index") in page and reverse("account_change_password") in page


def test_signup_errors_sit_at_their_field(client, db):
    response = client.post(reverse("account_signup"), {"email": "dora@example.com", "password1": "short",
                                                       "password2": "short"})
    page = response.content.decode()
    field_start = page.index('id="id_password1"')
    error = page.index('id="id_password1_error"')
    assert field_start < error < page.index('id="id_password2"')


def test_a_failed_login_says_so_in_the_layout(client, alice):
    response = client.post(reverse("account_login"), {"login": "alice@example.com", "password": PASSWORD + "x"})
    page = response.content.decode()
    assert BRAND in page and 'class="errorlist nonfield"' in page


def test_the_password_reset_from_key_page_renders(client, alice):
    from allauth.account.forms import default_token_generator
    from allauth.account.utils import user_pk_to_url_str

    key = default_token_generator.make_token(alice)
    url = reverse("account_reset_password_from_key", kwargs={"uidb36": user_pk_to_url_str(alice), "key": key})
    response = client.get(url, follow=True)
    assert BRAND in response.content.decode()
    assert 'name="password1"' in response.content.decode()
