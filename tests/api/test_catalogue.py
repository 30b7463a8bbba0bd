"""Plans, images, members, quota and identity: read-only, scoped to the token's tenant, paginated."""

from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from provisioning.models import Image
from services.catalogue import install
from services.models import Plan
from tenants.models import Membership


def test_plans_lists_only_active_plans(alice_api, ct_plan, vm_plan):
    Plan.objects.filter(pk=vm_plan.pk).update(active=False)
    body = alice_api.get("/api/v1/plans/").json()
    assert body["count"] == 1
    plan = body["results"][0]
    assert plan["id"] == str(ct_plan.public_id)
    assert (plan["cores"], plan["memory_mb"], plan["disk_gb"], plan["price_monthly"]) == (1, 1024, 10, "4.90")
    assert alice_api.get(f"/api/v1/plans/{vm_plan.public_id}/").status_code == 404


def test_plans_filter_by_kind(alice_api, ct_plan, vm_plan):
    assert [p["slug"] for p in alice_api.get("/api/v1/plans/?kind=qemu").json()["results"]] == ["vm-m"]
    response = alice_api.get("/api/v1/plans/?kind=banana")
    assert response.status_code == 400
    assert "kind" in response.json()["errors"]


def test_images_are_public_ones_and_the_tenants_own(alice_api, offline_image, tenant_a, tenant_b):
    own = Image.objects.create(cluster=offline_image.cluster, tenant=tenant_a, name="Our template", kind="lxc",
                               volid="local:vztmpl/ours.tar.zst")
    foreign = Image.objects.create(cluster=offline_image.cluster, tenant=tenant_b, name="Theirs", kind="lxc",
                                   volid="local:vztmpl/theirs.tar.zst")
    results = alice_api.get("/api/v1/images/").json()["results"]
    assert {(i["name"], i["own"]) for i in results} == {("Debian 12 (container)", False), ("Our template", True)}
    assert alice_api.get(f"/api/v1/images/{own.public_id}/").json()["location"] == "Offline"
    assert alice_api.get(f"/api/v1/images/{foreign.public_id}/").status_code == 404


def test_a_windows_image_names_the_licence_its_servers_are_charged(alice_api, offline_image):
    def listed():
        with CaptureQueriesContext(connection) as queries:
            results = {i["name"]: i for i in alice_api.get("/api/v1/images/").json()["results"]}
        return results, len(queries)

    install(apps)  # the licence prices, which an earlier test's flush may have emptied
    Image.objects.create(cluster=offline_image.cluster, name="Windows Server 2022", kind="qemu", template_vmid=9002,
                         os_family="windows")
    listed()  # the first request also records when the token was last used
    results, one = listed()
    assert results["Debian 12 (container)"]["licences"] == []
    (licence,) = results["Windows Server 2022"]["licences"]
    assert (licence["code"], licence["pack_cores"], licence["minimum_cores"], licence["price_monthly"]) == (
        "windows-server-std", 2, 8, "4.90")
    for year in (2016, 2019, 2025):
        Image.objects.create(cluster=offline_image.cluster, name=f"Windows Server {year}", kind="qemu",
                             template_vmid=9002, os_family="windows")
    assert listed()[1] == one  # the licences are read once for the whole list


def test_lists_are_paginated(alice_api, ct_plan, vm_plan):
    body = alice_api.get("/api/v1/plans/?page_size=1").json()
    assert body["count"] == 2 and len(body["results"]) == 1 and body["next"].endswith("page=2&page_size=1")
    assert alice_api.get("/api/v1/plans/?page=2&page_size=1").json()["previous"] is not None
    response = alice_api.get("/api/v1/plans/?page=9")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_members_are_listed_read_only(alice_api, tenant_a):
    body = alice_api.get("/api/v1/members/").json()
    assert [(m["email"], m["role"]) for m in body["results"]] == [
        ("alice@example.com", "owner"), ("bob@example.com", "member")
    ]
    bob = Membership.objects.get(user__email="bob@example.com")
    assert alice_api.get(f"/api/v1/members/{bob.public_id}/").json()["email"] == "bob@example.com"
    assert alice_api.post("/api/v1/members/", {}, format="json").status_code == 405
    assert alice_api.delete(f"/api/v1/members/{bob.public_id}/").status_code == 405


def test_other_tenants_members_are_not_found(charlie_api, tenant_a):
    bob = Membership.objects.get(user__email="bob@example.com")
    assert charlie_api.get(f"/api/v1/members/{bob.public_id}/").status_code == 404
    assert [m["email"] for m in charlie_api.get("/api/v1/members/").json()["results"]] == ["charlie@example.com"]


def test_malformed_ids_are_not_found_as_json(alice_api, tenant_a):
    response = alice_api.get("/api/v1/members/not-a-uuid/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_quota_shows_limits_and_use(alice_api, tenant_a, make_server):
    make_server(tenant_a, "web")
    make_server(tenant_a, "old", status="deleted")
    body = alice_api.get("/api/v1/quota/").json()
    assert body["limits"]["servers"] == tenant_a.max_servers
    assert body["used"] == {"servers": 1, "cores": 1, "memory_mb": 1024, "disk_gb": 10}


def test_bob_sees_his_own_identity(bob_api):
    me = bob_api.get("/api/v1/me/").json()
    assert me["email"] == "bob@example.com" and me["role"] == "member" and me["tenant"]["name"] == "Alpha GmbH"


def test_approved_marketplace_appliances_are_listed_with_their_checksum(alice_api, offline_cluster):
    Image.objects.create(cluster=offline_cluster, name="Nextcloud", kind="lxc", volid="local:vztmpl/nc.tar.gz", source="appliance",
                         checksum="ab" * 64, approved=True)
    Image.objects.create(cluster=offline_cluster, name="Unapproved", kind="lxc", volid="local:vztmpl/x.tar.gz", source="appliance",
                         approved=False)
    names = {i["name"]: i for i in alice_api.get("/api/v1/images/").json()["results"]}
    assert names["Nextcloud"]["source"] == "appliance" and names["Nextcloud"]["checksum"] == "ab" * 64
    assert "Unapproved" not in names
