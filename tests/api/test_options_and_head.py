"""OPTIONS and HEAD on every route of the API: answered, never a 500.

The routes come from the URL resolver, so new endpoints are covered without touching this file.
"""

import re

import pytest
from django.core.cache import cache
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from provisioning.models import Backup, Operation, Snapshot
from tenants.models import Membership, SSHKey

GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)|<(?:\w+:)?(\w+)>")


def api_routes(resolver=None, prefix=""):
    """Every URL pattern under /api/v1/, parameters still in place."""
    for p in (resolver or get_resolver()).url_patterns:
        route = prefix + str(p.pattern).replace("^", "").replace("$", "")
        if isinstance(p, URLResolver):
            yield from api_routes(p, route)
        elif isinstance(p, URLPattern) and route.startswith("api/v1/"):
            yield "/" + route


def filled(route, values):
    """The route with each parameter replaced by each of its candidate values."""
    urls = [route]
    while match := GROUP.search(urls[0]):
        name = match.group(1) or match.group(2)
        urls = [url[:match.start()] + str(v) + url[match.end():] for url in urls for v in values[name]]
    return urls


@pytest.fixture
def values(tenant_a, alice, bob, make_server, ct_plan, offline_image):
    server = make_server(tenant_a, "web")
    Snapshot.objects.create(server=server, name="snap1", ready=True)
    backup = Backup.objects.create(tenant=tenant_a, server=server, cluster=server.cluster, node="pve1",
                                   storage="backup", volid="backup:backup/vzdump-lxc-1.tar.zst", kind="lxc",
                                   hostname="web", created_at=timezone.now())
    op = Operation.objects.create(tenant=tenant_a, server=server, kind="start", state="succeeded")
    key = SSHKey.objects.create(tenant=tenant_a, user=alice, name="k", key_type="ssh-ed25519",
                                public_key="ssh-ed25519 AAAA", fingerprint="SHA256:x")
    ids = [server.public_id, backup.public_id, op.public_id, key.id, Membership.objects.get(user=bob).public_id,
           ct_plan.public_id, offline_image.public_id, "not-a-uuid"]
    return {"id": ids, "server_id": [server.public_id, "not-a-uuid"], "name": ["snap1", "x.y"]}


def test_options_on_the_backup_schedule_answers_its_methods(alice_api, tenant_a, make_server):
    server = make_server(tenant_a, "web")
    response = alice_api.options(f"/api/v1/servers/{server.public_id}/backups/policy/")
    assert response.status_code == 200, response.content
    assert {"GET", "PUT"} <= {m.strip() for m in response["Allow"].split(",")}
    assert response.json()["name"]


def test_every_api_route_answers_options_and_head_without_a_server_error(alice, tenant_a, token_for, values):
    api = APIClient(raise_request_exception=False)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(alice, tenant_a)}")
    routes = list(api_routes())
    assert any("backups/policy" in route for route in routes)
    checked = 0
    for route in routes:
        for url in filled(route, values):
            cache.clear()  # the per-token throttle would answer 429 long before the end
            options = api.options(url)
            assert options.status_code < 500, ("OPTIONS", url, options.content[:500])
            allowed = {m.strip() for m in options.get("Allow", "").split(",")}
            if options.status_code == 200 and "GET" in allowed:
                head = api.head(url)
                assert head.status_code < 500, ("HEAD", url)
                assert head.status_code in (200, 404), ("HEAD", url, head.status_code)
            checked += 1
    assert checked > 100
