"""Every URL the resolver knows, tried as another tenant, a viewer, an anonymous user and sales staff.

New URLs are covered automatically: the sweep walks the URL resolver. Allowed answers are
redirects, 401/403/404/405 and, for pages that belong to the visitor, 200; never a 500, never
another tenant's data, never a change made by someone not allowed to make it.
"""

import re
import uuid

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db import connection, models
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from provisioning.models import AddressSet, Backup, Cluster, Drift, Node, Operation, Server, Snapshot
from tenants.models import Invitation, Membership, Role, SSHKey
from tests.conftest import make_user

SKIP_PREFIXES = ("admin/", "accounts/", "static/", "__debug__")
PUBLIC = {"healthz", "favicon", "set_language", "schema", "docs", "redoc", "invitation_accept"}
# What a viewer may still do: choose language and tenant, leave, accept an invitation, read.
VIEWER_MAY_WRITE = {"set_language", "switch", "leave", "invitation_accept", "api_tokens", "request_create"}
CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>|\(\?P<(\w+)>[^)]*\)")


def walk(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            yield from walk(p, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p.name


def urls_for(values):
    """Concrete URLs for every pattern, each parameter filled with each candidate value."""
    for pattern, name in walk():
        if pattern.startswith(SKIP_PREFIXES):
            continue
        route = pattern.replace("^", "").replace("$", "").replace("\\.", ".")
        params = CONVERTER.findall(route)
        candidates = [""]
        for conv, pname, rname in params:
            options = values.get(conv or "re", values["uuid"]) if not rname else values["uuid"]
            if pname in values:
                options = values[pname]
            candidates = [c + "\x00" + str(v) for c in candidates for v in options]
        for filled in candidates:
            url = route
            for value in filled.split("\x00")[1:]:
                url = CONVERTER.sub(value, url, count=1)
            yield "/" + url, name


def row_counts():
    """A fingerprint of every write in this test's transaction (sessions aside)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_xact_user_tables "
                "WHERE relname <> 'django_session' AND n_tup_ins + n_tup_upd + n_tup_del > 0 ORDER BY relname"
            )
            return dict(cursor.fetchall())
    return {m._meta.label: m.objects.count() for m in apps.get_models() if m._meta.label != "sessions.Session"}


@pytest.fixture
def world(tenant_a, tenant_b, alice, bob):
    cluster = Cluster.objects.create(name="C", api_url="127.0.0.1:1", token_id="a@pve!t")
    node = Node.objects.create(cluster=cluster, name="pve", status="online", max_cores=8, max_memory_mb=8192, max_disk_gb=100)
    server = Server.objects.create(tenant=tenant_a, cluster=cluster, node=node, kind="lxc", hostname="secret-host", vmid=100, cores=1, memory_mb=512, disk_gb=8, status="running", ipv4="192.0.2.10")
    Snapshot.objects.create(server=server, name="snap1", ready=True)
    backup = Backup.objects.create(tenant=tenant_a, server=server, cluster=cluster, node="pve", storage="backup", volid="backup:backup/vzdump-lxc-100-2026_01_01-00_00_00.tar.zst", kind="lxc", hostname="secret-host", created_at=timezone.now())
    op = Operation.objects.create(tenant=tenant_a, server=server, kind="start", state="failed", error="x")
    key = SSHKey.objects.create(tenant=tenant_a, name="alice-key", key_type="ssh-ed25519", public_key="ssh-ed25519 AAAA", fingerprint="SHA256:x")
    invitation = Invitation.objects.create(tenant=tenant_a, email="new@example.com", token="tok-" + uuid.uuid4().hex)
    drift = Drift.objects.create(cluster=cluster, kind="unknown", vmid=555)
    AddressSet.objects.create(tenant=tenant_a, name="secret-host", entries=["192.0.2.1"])  # a tenant page, not a server's
    uuids = [server.public_id, backup.public_id, op.public_id, key.id, invitation.id, Membership.objects.get(user=bob).public_id]
    # One object of every other tenant-owned model that has a public UUID (orders, tokens, requests, ...).
    for model in apps.get_models():
        uuid_fields = [f.name for f in model._meta.fields if isinstance(f, models.UUIDField)]
        if uuid_fields and "tenant" in [f.name for f in model._meta.fields]:
            first = model.objects.filter(tenant=tenant_a).values_list(uuid_fields[0], flat=True).first()
            if first:
                uuids.append(first)
    values = {
        "uuid": sorted(set(uuids), key=str),
        "int": [cluster.pk, node.pk, drift.pk],
        "pk": [cluster.pk, node.pk, drift.pk],
        "name": ["snap1"],
        "action": ["stop"],
        "token": [invitation.token],
        "transition": ["accepted", "sent"],
        "re": [str(server.public_id)],
    }
    return {"values": values, "server": server}


def request(client, method, url):
    cache.clear()  # per-token throttles would otherwise answer 429 before the check we want to see
    data = {"hostname": "x", "confirm_hostname": "secret-host", "name": "n", "target": "new", "role": "owner", "enabled": "1"}
    return client.get(url) if method == "get" else client.post(url, data)


def test_another_tenant_never_sees_or_changes_alices_objects(world, charlie_client):
    checked = 0
    for url, name in urls_for(world["values"]):
        for method in ("get", "post"):
            before = row_counts() if method == "post" else None
            response = request(charlie_client, method, url)
            assert response.status_code != 500, (method, url)
            if name != "invitation_accept":
                assert b"secret-host" not in response.content, (method, url)
                if _has_object_id(url, world):
                    assert response.status_code in (302, 400, 401, 403, 404, 405), (method, url, response.status_code)
                    assert method == "get" or row_counts() == before, (method, url)
            checked += 1
    assert checked > 100


def _has_object_id(url, world):
    return any(str(v) in url for v in world["values"]["uuid"])


def test_a_viewer_changes_nothing(world, bob, bob_client):
    Membership.objects.filter(user=bob).update(role=Role.VIEWER)
    for url, name in urls_for(world["values"]):
        if name in VIEWER_MAY_WRITE or name in PUBLIC:
            continue
        before = row_counts()
        response = request(bob_client, "post", url)
        assert response.status_code != 500, url
        assert row_counts() == before, (url, response.status_code)


def test_anonymous_visitors_are_sent_to_login(world, client):
    for url, name in urls_for(world["values"]):
        if name in PUBLIC:
            continue
        for method in ("get", "post"):
            response = request(client, method, url)
            assert response.status_code in (302, 401, 403, 404, 405), (method, url, response.status_code)
            if response.status_code == 302:
                assert "/accounts/login/" in response["Location"], (method, url)
            assert b"secret-host" not in response.content


def test_sales_staff_see_no_customer_servers_and_no_operations_pages(world):
    seller = make_user("seller@jiku.example", is_staff=True)
    group, _ = Group.objects.get_or_create(name="Sales")
    group.permissions.set(Permission.objects.filter(codename="sell"))
    seller.groups.add(group)
    client = Client()
    client.force_login(seller)
    for url, name in urls_for(world["values"]):
        if url.startswith("/sales/") or name in PUBLIC:
            continue
        for method in ("get", "post"):
            before = row_counts() if method == "post" else None
            response = request(client, method, url)
            assert response.status_code != 500, (method, url)
            assert b"secret-host" not in response.content, (method, url)
            if url.startswith("/staff/"):
                assert response.status_code in (403, 404, 405), (method, url)
            if method == "post" and (_has_object_id(url, world) or url.startswith("/staff/")):
                assert row_counts() == before, (method, url)
