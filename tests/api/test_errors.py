"""Every answer under /api/v1/ is JSON in the one error shape and the request's language, including
the ones Django itself would give: no route, a wrong method, a bug, a bad Host header."""

import uuid

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from provisioning.models import Backup, Snapshot

NOT_FOUND = {"de": "Nicht gefunden.", "en": "Not found."}
LANGUAGES = pytest.mark.parametrize("language", ["de", "en"])


def error(response, status, code):
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"] == "application/json", response.content[:300]
    body = response.json()
    assert body["code"] == code and body["detail"], body
    return body


def backup_of(server):
    return Backup.objects.create(tenant=server.tenant, server=server, cluster=server.cluster, node="pve1",
                                 storage="backup", volid=f"backup:backup/vzdump-lxc-{server.vmid}.tar.zst",
                                 kind="lxc", hostname=server.hostname, created_at=timezone.now())


@LANGUAGES
def test_other_tenants_objects_are_not_found_in_the_requests_language(language, alice_api, charlie_api, tenant_a,
                                                                       tenant_b, make_server):
    server = make_server(tenant_a, "web")
    Snapshot.objects.create(server=server, name="before", ready=True)
    backup = backup_of(server)
    base = f"/api/v1/servers/{server.public_id}"
    for method, url in [
        ("get", f"{base}/"),
        ("get", f"{base}/snapshots/"),
        ("post", f"{base}/snapshots/before/rollback/"),
        ("delete", f"{base}/snapshots/before/"),
        ("get", f"{base}/backups/"),
        ("get", f"{base}/backups/policy/"),
        ("get", f"/api/v1/backups/{backup.public_id}/"),
        ("post", f"/api/v1/backups/{backup.public_id}/restore/"),
    ]:
        response = getattr(charlie_api, method)(url, {}, format="json", HTTP_ACCEPT_LANGUAGE=language)
        assert error(response, 404, "not_found") == {"detail": NOT_FOUND[language], "code": "not_found"}, url
    for url in ["/api/v1/servers/not-a-uuid/", "/api/v1/servers/abc.def/snapshots/",
                f"/api/v1/servers/{uuid.uuid4()}/snapshots/x.y/rollback/", f"/api/v1/backups/{uuid.uuid4()}/"]:
        response = alice_api.post(url, {}, format="json") if "rollback" in url else alice_api.get(url)
        assert response.status_code == 404, url
    response = alice_api.get("/api/v1/servers/abc.def/backups/policy/", HTTP_ACCEPT_LANGUAGE=language)
    assert error(response, 404, "not_found")["detail"] == NOT_FOUND[language]


@LANGUAGES
def test_paths_no_route_matches_answer_json_even_in_debug_mode(language, alice_api, settings):
    settings.DEBUG = True  # the demo: Django would show its technical 404 page
    for url in ["/api/v1/nonsense/", "/api/v1/", "/api/v1/servers/a/b/c/d/e/",
                f"/api/v1/servers/{uuid.uuid4()}/snapshots/x.y/rollback/nonsense/"]:
        for method in ("get", "post", "delete", "options"):
            response = getattr(alice_api, method)(url, HTTP_ACCEPT_LANGUAGE=language)
            assert error(response, 404, "not_found")["detail"] == NOT_FOUND[language], (method, url)
    anonymous = APIClient()
    assert error(anonymous.get("/api/v1/nonsense/", HTTP_ACCEPT_LANGUAGE=language), 404, "not_found")


def test_a_missing_trailing_slash_redirects_reads_and_is_explained_to_writes(alice_api, settings):
    settings.DEBUG = True  # Django would raise "You called this URL via POST ..." here
    response = alice_api.get("/api/v1/servers?status=running")
    assert response.status_code == 301 and response["Location"] == "/api/v1/servers/?status=running"
    body = error(alice_api.post("/api/v1/servers", {}, format="json"), 404, "not_found")
    assert "/api/v1/servers/" in body["detail"]
    assert error(alice_api.get("/api/v1/nonsense"), 404, "not_found")["detail"] == "Not found."


@LANGUAGES
def test_methods_an_endpoint_does_not_have_answer_json_405(language, alice_api, tenant_a, make_server):
    server = make_server(tenant_a, "web")
    for method, url in [
        ("put", f"/api/v1/servers/{server.public_id}/"),
        ("delete", "/api/v1/me/"),
        ("post", "/api/v1/members/"),
        ("get", f"/api/v1/servers/{server.public_id}/start/"),
        ("post", "/api/v1/schema/"),  # rendered YAML before
        ("post", "/api/v1/docs/"),  # and HTML
    ]:
        response = getattr(alice_api, method)(url, HTTP_ACCEPT_LANGUAGE=language)
        body = error(response, 405, "method_not_allowed")
        assert ("nicht erlaubt" in body["detail"]) == (language == "de"), body


def test_errors_of_the_schema_view_are_json(client, db):
    assert error(client.get("/api/v1/schema/?format=xml"), 404, "not_found")


@LANGUAGES
def test_an_unexpected_error_answers_a_generic_json_500_without_the_traceback(language, alice, tenant_a, token_for,
                                                                              monkeypatch, settings):
    settings.DEBUG = False

    def broken(tenant):
        raise RuntimeError("secret detail of the bug")

    monkeypatch.setattr("provisioning.actions.quota_usage", broken)
    client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {token_for(alice, tenant_a)}")
    response = client.get("/api/v1/quota/", HTTP_ACCEPT_LANGUAGE=language)
    body = error(response, 500, "server_error")
    assert body == {"detail": {"de": "Ein Serverfehler ist aufgetreten. Bitte versuchen Sie es später erneut.",
                               "en": "A server error occurred. Please try again later."}[language],
                    "code": "server_error"}
    assert b"secret detail" not in response.content and b"Traceback" not in response.content


def test_a_foreign_host_header_answers_json_400_and_the_site_keeps_its_pages(client, db, settings):
    settings.DEBUG, settings.ALLOWED_HOSTS = False, ["testserver"]
    error(client.get("/api/v1/me/", HTTP_HOST="evil.example"), 400, "bad_request")
    assert client.get("/no-such-page/").headers["Content-Type"].startswith("text/html")
    assert client.get("/no-such-page/", HTTP_HOST="evil.example").headers["Content-Type"].startswith("text/html")


def test_an_oversized_body_answers_json_413(alice_api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = error(alice_api.post("/api/v1/ssh-keys/", {"name": "x" * 2000}, format="json"), 413, "request_too_large")
    assert body["detail"] == "The request body is too large."
