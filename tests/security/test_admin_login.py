"""Every login goes through allauth: the admin has no password form of its own, so staff meet the
login rate limit and their second factor like everyone else."""

import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.contrib.auth.views import LoginView
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tenants.staff_roles import ADMIN
from tests.conftest import PASSWORD, make_staff, make_user

pytestmark = pytest.mark.django_db
ADMIN_LOGIN = "/admin/login/"


@pytest.fixture(autouse=True)
def own_rate_limits(settings):
    # Login rate limits live in the cache; a private one keeps other tests' attempts out.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": str(uuid.uuid4())}}


@pytest.fixture
def root(db):
    return make_user("root@jiku.example", is_staff=True, is_superuser=True)


def totp_code(secret):
    if 30 - time.time() % 30 < 2:  # never a code about to expire on its way to the server
        time.sleep(2)
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def signed_in(client):
    return "_auth_user_id" in client.session


def is_allauth_login(location, next_url):
    parts = urlsplit(location)
    return parts.path == reverse("account_login") and parse_qs(parts.query).get("next") == [next_url]


def test_passwords_posted_to_the_admin_login_log_nobody_in(client, root):
    for _ in range(12):
        response = client.post(ADMIN_LOGIN, {"username": "root", "password": "wrong-password", "next": "/admin/"})
        assert response.status_code == 302 and is_allauth_login(response["Location"], "/admin/")
    for username in ("root", "root@jiku.example"):
        response = client.post(ADMIN_LOGIN, {"username": username, "password": PASSWORD})
        assert response.status_code == 302 and is_allauth_login(response["Location"], "/admin/")
        assert not signed_in(client)
    assert client.get("/admin/").status_code == 302


def test_the_admin_sends_anonymous_visitors_to_the_allauth_login_with_next(client):
    response = client.get("/admin/", follow=True)
    assert response.status_code == 200
    assert is_allauth_login(response.redirect_chain[-1][0], "/admin/")
    assert "account/login.html" in [t.name for t in response.templates]
    deep = client.get("/admin/provisioning/cluster/", follow=True)
    assert is_allauth_login(deep.redirect_chain[-1][0], "/admin/provisioning/cluster/")


def test_the_admin_login_keeps_only_a_local_next(client):
    assert is_allauth_login(client.get(ADMIN_LOGIN, {"next": "https://evil.example/"})["Location"], "/admin/")


def test_signed_in_staff_go_on_to_where_they_wanted(client, root):
    client.force_login(root)
    assert client.get(ADMIN_LOGIN, {"next": "/admin/provisioning/"})["Location"] == "/admin/provisioning/"
    assert client.get(ADMIN_LOGIN)["Location"] == "/admin/"


def test_signed_in_customers_are_refused_not_bounced_back_to_login(alice_client):
    assert alice_client.get("/admin/", follow=True).status_code == 403


def test_the_allauth_login_rate_limit_holds_for_staff(client, root):
    for _ in range(5):
        client.post(reverse("account_login"), {"login": "root@jiku.example", "password": "wrong-password"})
    response = client.post(reverse("account_login"), {"login": "root@jiku.example", "password": PASSWORD})
    assert b"Too many failed login attempts" in response.content
    client.post(ADMIN_LOGIN, {"username": "root", "password": PASSWORD})
    assert not signed_in(client)


def test_staff_with_totp_are_asked_for_the_code_before_admin_or_staff_pages_open(client):
    dora = make_staff("dora@jiku.example", ADMIN)
    secret = generate_totp_secret()
    TOTP.activate(dora, secret)

    response = client.post(reverse("account_login"), {"login": "dora@jiku.example", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("mfa_authenticate"), response.context["form"].errors
    assert not signed_in(client)
    for url in ("/admin/", reverse("staff:overview")):
        page = client.get(url, follow=True)
        # Through allauth's login, which asks for the pending code first.
        assert [urlsplit(u).path for u, _status in page.redirect_chain][-2:] == [reverse("account_login"), reverse("mfa_authenticate")], url
        assert not signed_in(client)
    client.post(ADMIN_LOGIN, {"username": "dora", "password": PASSWORD})
    assert not signed_in(client)

    # The code: now both open.
    response = client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert signed_in(client)
    assert client.get("/admin/").status_code == 200
    assert client.get(reverse("staff:overview")).status_code == 200


def walk(resolver=None):
    for p in (resolver or get_resolver()).url_patterns:
        if isinstance(p, URLResolver):
            yield from walk(p)
        elif isinstance(p, URLPattern):
            yield p


def test_allauth_has_the_only_password_form():
    """No Django LoginView is routed (the admin's is replaced), nor DRF's browsable-API login."""
    from django.conf import settings

    for pattern in walk():
        view_class = getattr(pattern.callback, "view_class", None)
        assert not (view_class and issubclass(view_class, LoginView)), pattern.pattern
    assert "rest_framework" not in get_resolver().namespace_dict
    assert "account_login" in {p.name for p in walk()}
    api = settings.REST_FRAMEWORK
    assert api["DEFAULT_RENDERER_CLASSES"] == ["rest_framework.renderers.JSONRenderer"]
    assert "rest_framework.authentication.BasicAuthentication" not in api["DEFAULT_AUTHENTICATION_CLASSES"]
