"""Security checks: CSRF on every state change, production cookie flags, secrets never shown,
login rate limiting and enforced two-factor."""

import json
import logging
import os
import subprocess
import sys

from django.conf import settings
from django.test import Client
from django.urls import reverse

from provisioning.models import Cluster
from provisioning.reconcile import reconcile_cluster

from .test_isolation_sweep import urls_for, world  # noqa: F401

SECRET = "0b4d2c1e-secret-token-value-never-show"


def test_every_state_change_needs_a_csrf_token(world, alice):  # noqa: F811
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    checked = 0
    for url, _name in urls_for(world["values"]):
        response = client.post(url, {"hostname": "x"})
        # Token-authenticated API calls are exempt (like Proxmox's own API); with a session they are not.
        assert response.status_code in (401, 403, 404, 405), (url, response.status_code)
        checked += 1
    assert checked > 50


def test_production_cookies_are_secure_and_https_is_enforced(tmp_path):
    env = dict(os.environ, DEBUG="0", SECRET_KEY="x" * 60, FIELD_ENCRYPTION_KEY="y" * 60, ALLOWED_HOSTS="portal.example",
               VAR_DIR=str(tmp_path))
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, "
        "s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.DEBUG, s.X_FRAME_OPTIONS]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env={**env, "DJANGO_SETTINGS_MODULE": "portal.settings"}, cwd=settings.BASE_DIR,
        capture_output=True, text=True, check=True,
    ).stdout
    assert json.loads(out) == [True, True, True, True, 31536000, False, "DENY"]


def test_the_proxmox_token_secret_is_never_rendered_or_logged(db, admin_client, caplog):
    cluster = Cluster(name="Prod", api_url="127.0.0.1:9", token_id="portal@pve!portal")
    cluster.token_secret = SECRET
    cluster.save()
    assert SECRET not in Cluster.objects.values_list("token_secret_encrypted", flat=True).get()
    for url in (reverse("admin:provisioning_cluster_change", args=[cluster.pk]), reverse("admin:provisioning_cluster_changelist")):
        page = admin_client.get(url).content.decode()
        assert SECRET not in page
    with caplog.at_level(logging.DEBUG):
        result = reconcile_cluster(cluster)  # nothing listens on port 9: the failure gets logged
    assert "error" in result
    assert SECRET not in caplog.text
    assert SECRET not in Cluster.objects.get(pk=cluster.pk).reconcile_error


def test_repeated_wrong_passwords_are_rate_limited(db, alice, client, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    for _ in range(5):
        client.post("/accounts/login/", {"login": "alice@example.com", "password": "wrong-password"})
    response = client.post("/accounts/login/", {"login": "alice@example.com", "password": "correct-horse-battery-9"})
    assert "_auth_user_id" not in client.session
    assert response.status_code in (200, 429)
    assert b"Too many failed login attempts" in response.content


def test_a_tenant_that_requires_two_factor_sends_members_to_set_it_up(alice_client, tenant_a):
    tenant_a.require_mfa = True
    tenant_a.save()
    response = alice_client.get("/servers/")
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("/accounts/") and ("totp" in location or "reauthenticate" in location)


def test_the_simulators_private_key_is_readable_by_its_owner_only(tmp_path):
    from pvesim.certs import generate

    old = os.umask(0o022)  # a permissive umask must not leak the key
    try:
        cert_path, key_path = generate(str(tmp_path))
    finally:
        os.umask(old)
    assert os.stat(key_path).st_mode & 0o777 == 0o600
    assert os.stat(cert_path).st_mode & 0o777 == 0o644  # the certificate is public
