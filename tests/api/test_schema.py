"""The OpenAPI description: generated from the code, valid, complete about errors, and true.

schemathesis generates requests from the description and checks the answers against it.
"""

import io
import uuid

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from portal.api.models import IdempotencyRecord
from provisioning.models import Server
from tenants.actions import api_token_create
from tenants.models import SSHKey
from tests.tenants.keys import ed25519_key


@pytest.fixture
def openapi(db, client):
    return client.get("/api/v1/schema/?format=json").json()


def test_the_description_is_valid_and_warning_free(db):
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=io.StringIO())


def test_every_operation_documents_its_errors(openapi):
    assert openapi["info"]["title"] == "JIKU Cloud API"
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            codes = set(operation["responses"])
            assert {"401", "403", "429"} <= codes, (method, path)
            if method in ("post", "patch") and not path.endswith(("/start/", "/stop/", "/shutdown/", "/reboot/")):
                assert "400" in codes, (method, path)
            if "{id}" in path:
                assert "404" in codes, (method, path)
            for code, response in operation["responses"].items():
                if code.startswith(("4", "5")):
                    assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert openapi["components"]["securitySchemes"]["tokenAuth"]["scheme"] == "bearer"


def test_writes_document_idempotency_and_if_match(openapi):
    create = openapi["paths"]["/api/v1/servers/"]["post"]
    assert "Idempotency-Key" in [p["name"] for p in create["parameters"]]
    patch = openapi["paths"]["/api/v1/servers/{id}/"]["patch"]
    if_match = next(p for p in patch["parameters"] if p["name"] == "If-Match")
    assert if_match["in"] == "header" and if_match["required"] is True
    assert {"412", "428"} <= set(patch["responses"])


def test_the_docs_are_served_from_local_assets(client, db):
    for url in ("/api/v1/docs/", "/api/v1/redoc/"):
        page = client.get(url).content.decode()
        assert "/static/drf_spectacular_sidecar/" in page
        assert "cdn" not in page.lower() and "unpkg" not in page.lower()


# --- schemathesis --------------------------------------------------------------------------------
@pytest.fixture
def api_schema(db, alice, tenant_a, tenant_b, ct_plan, make_server):
    # As Django's test client does: keep the test's connection (and transaction) open across requests.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def alice_token(alice, tenant_a, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {"api": "100000/min", "api_write": "100000/min"}}
    _token, text = api_token_create(tenant=tenant_a, user=alice, name="schemathesis")
    return text


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, ignored_auth]


def exercise(operation, headers, seen, path_parameters=None):
    @given(case=operation.as_strategy(path_parameters=path_parameters))
    @settings(max_examples=8, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    def run(case):
        if operation.path == "/api/v1/ssh-keys/" and operation.method.upper() == "POST" and isinstance(case.body, dict):
            case.body["public_key"] = ed25519_key()  # random text is never a valid key
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        seen.setdefault(operation.label, set()).add(response.status_code)

    run()


def test_the_api_keeps_the_promises_of_its_description(api_schema, alice_token, tenant_a, tenant_b, make_server):
    """Every operation with generated input: once with random ids, once with the id of a real server."""
    own = make_server(tenant_a, "web")
    make_server(tenant_b, "theirs")
    headers = {"Authorization": f"Bearer {alice_token}"}
    seen = {}
    for result in api_schema.get_all_operations():
        operation = result.ok()
        exercise(operation, headers, seen)
        if operation.path.startswith("/api/v1/servers/{id}/"):
            exercise(operation, headers, seen, {"id": str(own.public_id)})
    assert len(seen) >= 20
    assert not any(code >= 500 for codes in seen.values() for code in codes)
    assert any(202 in codes for label, codes in seen.items() if "/servers/{id}/" in label)  # real work was done


def test_a_stateful_run_meets_no_surprises(api_schema, alice_token, tenant_a, ct_plan, offline_image):
    """Sequences of calls that follow the documented links as hypothesis picks them, every answer checked."""
    tenant_a.max_servers = 100
    tenant_a.save()
    headers = {"Authorization": f"Bearer {alice_token}"}
    statuses = []

    class Machine(api_schema.as_state_machine()):
        def before_call(self, case):
            if case.operation.label == "POST /api/v1/servers/":
                case.body = {"plan": str(ct_plan.public_id), "image": str(offline_image.public_id),
                             "hostname": f"st-{uuid.uuid4().hex[:8]}", "password": "long-enough"}
            if case.operation.label == "POST /api/v1/ssh-keys/":
                case.body = {"public_key": ed25519_key()}

        def get_call_kwargs(self, case):
            return {"headers": headers}

        def teardown(self):
            # Every example starts from the same data; otherwise hypothesis sees its draws change between runs.
            Server.objects.filter(tenant=tenant_a).delete()
            SSHKey.objects.filter(tenant=tenant_a).delete()
            IdempotencyRecord.objects.all().delete()  # a key hypothesis reuses must meet no earlier answer

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            statuses.append((case.operation.label, response.status_code))
            # ignored_auth is left to the test above: here the token header overrides the auth it would fake.
            case.validate_response(response, checks=CHECKS[:-1], transport_kwargs=kwargs)

    Machine.run(settings=settings(max_examples=40, stateful_step_count=6, deadline=None, database=None,
                                  derandomize=True, suppress_health_check=list(HealthCheck)))
    assert ("POST /api/v1/servers/", 202) in statuses


def test_the_documented_links_of_an_order_lead_to_its_operation_and_server(openapi, client, alice_token, ct_plan, offline_image):
    """Which links the stateful run happens to follow is up to hypothesis; here every GET link is followed."""
    headers = {"HTTP_AUTHORIZATION": f"Bearer {alice_token}"}
    body = client.post(
        "/api/v1/servers/", {"plan": str(ct_plan.public_id), "image": str(offline_image.public_id), "hostname": "linked",
                             "password": "long-enough"}, content_type="application/json", **headers,
    ).json()
    where = {op["operationId"]: (path, method) for path, item in openapi["paths"].items() for method, op in item.items()}
    followed = {}
    for link in openapi["paths"]["/api/v1/servers/"]["post"]["responses"]["202"]["links"].values():
        path, method = where[link["operationId"]]
        if method == "get":
            field = link["parameters"]["id"].removeprefix("$response.body#/")
            followed[link["operationId"]] = client.get(path.replace("{id}", body[field]), **headers).json()
    assert followed["operations_retrieve"]["kind"] == "create"
    assert followed["servers_retrieve"]["hostname"] == "linked"
