"""Servers over the API: order, read, rename (with If-Match), power, resize, reinstall, delete."""

import pytest
from django.utils import timezone

from provisioning import live
from provisioning.models import Image, Operation, Server
from services.models import Order
from tenants.models import AuditEvent, SSHKey
from tests.tenants.keys import ed25519_key


@pytest.fixture
def order_body(ct_plan, offline_image):
    return {"plan": str(ct_plan.public_id), "image": str(offline_image.public_id), "hostname": "Files",
            "password": "long-enough"}


def settle(server, status=Server.Status.RUNNING):
    Operation.objects.filter(server=server).update(state=Operation.State.SUCCEEDED)
    Server.objects.filter(pk=server.pk).update(status=status)


def test_alice_orders_a_container_and_gets_the_operation_to_poll(alice_api, order_body, ct_plan):
    response = alice_api.post("/api/v1/servers/", order_body, format="json")
    assert response.status_code == 202
    op = response.json()
    server = Server.objects.get()
    assert (op["kind"], op["state"], op["server"]) == ("create", "queued", str(server.public_id))
    assert response["Location"].endswith(f"/api/v1/operations/{op['id']}/")
    assert server.hostname == "files" and (server.cores, server.memory_mb, server.disk_gb) == (1, 1024, 10)
    assert Order.objects.get().plan == ct_plan
    assert alice_api.get(response["Location"]).json()["id"] == op["id"]
    shown = alice_api.get(f"/api/v1/servers/{server.public_id}/").json()
    assert shown["plan"] == str(ct_plan.public_id) and shown["status"] == "building"
    event = AuditEvent.objects.get(action="server.create")
    assert event.via == "api" and "script" in event.actor_label


def test_an_order_installs_the_chosen_ssh_keys(alice_api, order_body, tenant_a, alice):
    key = SSHKey.objects.create(tenant=tenant_a, user=alice, name="k", key_type="ssh-ed25519",
                                public_key=ed25519_key(), fingerprint="SHA256:x")
    body = {**order_body, "password": "", "ssh_keys": [str(key.id)]}
    assert alice_api.post("/api/v1/servers/", body, format="json").status_code == 202
    assert Server.objects.get().ssh_keys == key.public_key


def test_an_order_needs_a_key_or_a_password(alice_api, order_body):
    response = alice_api.post("/api/v1/servers/", {**order_body, "password": ""}, format="json")
    assert response.status_code == 400 and "non_field_errors" in response.json()["errors"]


def test_other_tenants_keys_cannot_be_used(alice_api, order_body, tenant_b, charlie):
    key = SSHKey.objects.create(tenant=tenant_b, user=charlie, name="k", key_type="ssh-ed25519",
                                public_key=ed25519_key(), fingerprint="SHA256:y")
    response = alice_api.post("/api/v1/servers/", {**order_body, "ssh_keys": [str(key.id)]}, format="json")
    assert response.status_code == 400 and "ssh_keys" in response.json()["errors"]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"hostname": "-bad-"}, "hostname"),
        ({"plan": "00000000-0000-0000-0000-000000000000"}, "plan"),
        ({"image": "00000000-0000-0000-0000-000000000000"}, "image"),
        ({"image": "not-a-uuid"}, "image"),
        ({"password": "short"}, "password"),
    ],
)
def test_bad_orders_name_the_field(alice_api, order_body, change, field):
    response = alice_api.post("/api/v1/servers/", {**order_body, **change}, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert not Server.objects.exists()


def test_an_image_of_the_wrong_kind_is_refused(alice_api, order_body, vm_plan):
    response = alice_api.post("/api/v1/servers/", {**order_body, "plan": str(vm_plan.public_id)}, format="json")
    assert response.status_code == 400 and "image" in response.json()["errors"]


def test_the_quota_applies(alice_api, order_body, tenant_a):
    tenant_a.max_memory_mb = 512
    tenant_a.save()
    response = alice_api.post("/api/v1/servers/", order_body, format="json")
    assert response.status_code == 400
    assert "512" in response.json()["errors"]["plan"][0]


def test_a_duplicate_hostname_is_refused(alice_api, order_body, tenant_a, make_server):
    make_server(tenant_a, "files")
    response = alice_api.post("/api/v1/servers/", order_body, format="json")
    assert response.status_code == 400 and "hostname" in response.json()["errors"]


def test_a_retried_order_builds_one_server(alice_api, order_body):
    first = alice_api.post("/api/v1/servers/", order_body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    second = alice_api.post("/api/v1/servers/", order_body, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json() and second["Location"] == first["Location"]
    assert Server.objects.count() == 1
    changed = alice_api.post("/api/v1/servers/", {**order_body, "hostname": "other"}, format="json",
                             HTTP_IDEMPOTENCY_KEY="order-1")
    assert changed.status_code == 422
    assert Server.objects.count() == 1


def test_viewers_cannot_order(api_for, alice, tenant_a, order_body):
    viewer = api_for(alice, tenant_a, role="viewer")
    assert viewer.post("/api/v1/servers/", order_body, format="json").status_code == 403
    assert viewer.get("/api/v1/servers/").status_code == 200


def test_the_list_filters(alice_api, tenant_a, tenant_b, make_server):
    make_server(tenant_a, "web-1")
    make_server(tenant_a, "web-2", status=Server.Status.STOPPED)
    make_server(tenant_a, "db", status=Server.Status.STOPPED)
    make_server(tenant_a, "gone", status=Server.Status.DELETED)
    make_server(tenant_b, "web-9")

    def names(query=""):
        return [s["hostname"] for s in alice_api.get(f"/api/v1/servers/{query}").json()["results"]]

    assert names() == ["db", "web-1", "web-2"]
    assert names("?status=stopped") == ["db", "web-2"]
    assert names("?search=web") == ["web-1", "web-2"]
    assert names("?hostname=db") == ["db"]
    assert names("?kind=qemu") == []
    assert alice_api.get("/api/v1/servers/?status=deleted").status_code == 400


def test_charlie_gets_404_for_everything_of_alices(charlie_api, tenant_a, make_server):
    server = make_server(tenant_a)
    url = f"/api/v1/servers/{server.public_id}/"
    assert charlie_api.get(url).status_code == 404
    assert charlie_api.patch(url, {"hostname": "x"}, format="json", HTTP_IF_MATCH="*").status_code == 404
    assert charlie_api.delete(url).status_code == 404
    for verb in ("start", "stop", "shutdown", "reboot", "resize", "reinstall"):
        assert charlie_api.post(f"{url}{verb}/", {}, format="json").status_code == 404, verb
    op = Operation.objects.create(tenant=tenant_a, server=server, kind="start")
    assert charlie_api.get(f"/api/v1/operations/{op.public_id}/").status_code == 404
    assert charlie_api.get(f"/api/v1/operations/?server={server.public_id}").json()["count"] == 0
    assert Server.objects.get().status == "running"


def test_get_answers_an_etag_and_304_when_unchanged(alice_api, tenant_a, make_server):
    server = make_server(tenant_a)
    url = f"/api/v1/servers/{server.public_id}/"
    response = alice_api.get(url)
    etag = response["ETag"]
    assert alice_api.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    live.store(server.cluster_id, {tenant_a.pk: {server.pk: (0.5, 300, 100)}}, timezone.now())
    shown = alice_api.get(url)
    assert shown.json()["uptime"] == 100 and shown.json()["cpu_usage"] == 0.5
    assert shown["ETag"] == etag, "live figures are not a change"
    Server.objects.filter(pk=server.pk).update(cores=2)
    assert alice_api.get(url)["ETag"] != etag


def test_rename_needs_if_match(alice_api, tenant_a, make_server):
    server = make_server(tenant_a)
    url = f"/api/v1/servers/{server.public_id}/"
    etag = alice_api.get(url)["ETag"]
    missing = alice_api.patch(url, {"hostname": "new"}, format="json")
    assert missing.status_code == 428 and missing.json()["code"] == "precondition_required"
    stale = alice_api.patch(url, {"hostname": "new"}, format="json", HTTP_IF_MATCH='"0123"')
    assert stale.status_code == 412
    response = alice_api.patch(url, {"hostname": "New"}, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 202 and response.json()["kind"] == "rename"
    assert Server.objects.get().hostname == "new"


def test_two_scripts_cannot_overwrite_each_other(alice_api, bob_api, tenant_a, make_server):
    server = make_server(tenant_a)
    url = f"/api/v1/servers/{server.public_id}/"
    etag = alice_api.get(url)["ETag"]
    assert bob_api.get(url)["ETag"] == etag
    assert alice_api.patch(url, {"hostname": "alices"}, format="json", HTTP_IF_MATCH=etag).status_code == 202
    settle(server)
    assert bob_api.patch(url, {"hostname": "bobs"}, format="json", HTTP_IF_MATCH=etag).status_code == 412
    assert Server.objects.get().hostname == "alices"


def test_rename_rules_come_from_the_action(alice_api, tenant_a, make_server):
    server = make_server(tenant_a, status=Server.Status.BUILDING)
    url = f"/api/v1/servers/{server.public_id}/"
    response = alice_api.patch(url, {"hostname": "new"}, format="json", HTTP_IF_MATCH="*")
    assert response.status_code == 400
    assert "running or stopped" in response.json()["errors"]["non_field_errors"][0]
    assert alice_api.put(url, {"hostname": "new"}, format="json").status_code == 405


@pytest.mark.parametrize(
    "verb, status, kind",
    [("start", "stopped", "start"), ("stop", "running", "stop"), ("shutdown", "running", "shutdown"),
     ("reboot", "running", "reboot")],
)
def test_power_actions_answer_202_with_the_operation(alice_api, tenant_a, make_server, verb, status, kind):
    server = make_server(tenant_a, status=status)
    response = alice_api.post(f"/api/v1/servers/{server.public_id}/{verb}/")
    assert response.status_code == 202
    assert response.json()["kind"] == kind
    assert AuditEvent.objects.get(action=f"server.{kind}").via == "api"


def test_power_actions_check_the_state(alice_api, tenant_a, make_server):
    server = make_server(tenant_a, status="running")
    response = alice_api.post(f"/api/v1/servers/{server.public_id}/start/")
    assert response.status_code == 400
    assert response.json()["detail"] == "Only a stopped server can be started."
    alice_api.post(f"/api/v1/servers/{server.public_id}/reboot/")
    busy = alice_api.post(f"/api/v1/servers/{server.public_id}/stop/")
    assert busy.status_code == 400 and "still running" in busy.json()["detail"]


def test_viewer_tokens_cannot_operate(api_for, bob, tenant_a, make_server):
    server = make_server(tenant_a)
    viewer = api_for(bob, tenant_a, role="viewer")
    assert viewer.post(f"/api/v1/servers/{server.public_id}/stop/").status_code == 403
    assert viewer.delete(f"/api/v1/servers/{server.public_id}/").status_code == 403
    assert not Operation.objects.exists()


def test_resize_grows_within_quota(alice_api, tenant_a, make_server):
    server = make_server(tenant_a)
    url = f"/api/v1/servers/{server.public_id}/resize/"
    shrink = alice_api.post(url, {"cores": 1, "memory_mb": 1024, "disk_gb": 5}, format="json")
    assert shrink.status_code == 400 and "disk_gb" in shrink.json()["errors"]
    too_big = alice_api.post(url, {"cores": 64, "memory_mb": 1024, "disk_gb": 10}, format="json")
    assert too_big.status_code == 400 and "cores" in too_big.json()["errors"]
    stale = alice_api.post(url, {"cores": 2, "memory_mb": 2048, "disk_gb": 20}, format="json", HTTP_IF_MATCH='"x"')
    assert stale.status_code == 412
    response = alice_api.post(url, {"cores": 2, "memory_mb": 2048, "disk_gb": 20}, format="json")
    assert response.status_code == 202 and response.json()["kind"] == "resize"
    assert Server.objects.values_list("cores", "disk_gb").get() == (2, 20)


def test_reinstall_takes_an_image_of_the_servers_kind(alice_api, tenant_a, make_server, offline_image):
    server = make_server(tenant_a)
    url = f"/api/v1/servers/{server.public_id}/reinstall/"
    vm = Image.objects.create(cluster=offline_image.cluster, name="VM", kind="qemu", template_vmid=9000)
    wrong = alice_api.post(url, {"image": str(vm.public_id)}, format="json")
    assert wrong.status_code == 400 and "image" in wrong.json()["errors"]
    response = alice_api.post(url, {"image": str(offline_image.public_id), "password": "long-enough"}, format="json")
    assert response.status_code == 202 and response.json()["kind"] == "reinstall"
    assert Server.objects.get().status == "building"


def test_delete_answers_the_operation(alice_api, tenant_a, make_server):
    server = make_server(tenant_a)
    response = alice_api.delete(f"/api/v1/servers/{server.public_id}/")
    assert response.status_code == 202 and response.json()["kind"] == "delete"
    assert Server.objects.get().status == "deleting"
    again = alice_api.delete(f"/api/v1/servers/{server.public_id}/")
    assert again.status_code == 400


def test_a_failed_build_is_removed_at_once(alice_api, tenant_a, make_server):
    server = make_server(tenant_a, status=Server.Status.FAILED)
    assert alice_api.delete(f"/api/v1/servers/{server.public_id}/").status_code == 204
    assert alice_api.get(f"/api/v1/servers/{server.public_id}/").status_code == 404


def test_delete_honours_if_match(alice_api, tenant_a, make_server):
    server = make_server(tenant_a)
    assert alice_api.delete(f"/api/v1/servers/{server.public_id}/", HTTP_IF_MATCH='"old"').status_code == 412
    assert Server.objects.get().status == "running"


def test_operations_list_filters(alice_api, tenant_a, make_server):
    web, db = make_server(tenant_a, "web"), make_server(tenant_a, "db", status="stopped")
    alice_api.post(f"/api/v1/servers/{web.public_id}/stop/")
    alice_api.post(f"/api/v1/servers/{db.public_id}/start/")
    ops = alice_api.get(f"/api/v1/operations/?server={web.public_id}").json()["results"]
    assert [(o["kind"], o["server"]) for o in ops] == [("stop", str(web.public_id))]
    assert [o["kind"] for o in alice_api.get("/api/v1/operations/").json()["results"]] == ["start", "stop"]
    assert alice_api.get("/api/v1/operations/?kind=start&state=queued").json()["count"] == 1
    assert alice_api.get("/api/v1/operations/?server=nope").status_code == 400
    op = Operation.objects.get(kind="stop")
    Operation.objects.filter(pk=op.pk).update(state="failed", error="VM 200 qmp command failed", step_name="stop")
    shown = alice_api.get(f"/api/v1/operations/{op.public_id}/").json()
    # The portal's words for the customer; Proxmox's own text stays with JIKU's staff.
    assert (shown["state"], shown["step_label"]) == ("failed", "Stopping")
    assert shown["error"].startswith("The server could not be stopped") and "qmp" not in shown["error"]


def test_lists_take_a_fixed_number_of_queries(alice_api, tenant_a, make_server, django_assert_max_num_queries,
                                             ct_plan, offline_image):
    alice_api.get("/api/v1/me/")  # the token's last use is written once a minute, not on every request
    for n in range(8):
        server = make_server(tenant_a, f"web-{n}")
        Operation.objects.create(tenant=tenant_a, server=server, kind="start")
    with django_assert_max_num_queries(5):  # token, membership, count, page (with plan and image)
        assert alice_api.get("/api/v1/servers/").json()["count"] == 8
    with django_assert_max_num_queries(5):
        assert alice_api.get("/api/v1/operations/").json()["count"] == 8


def test_child_endpoints_find_their_server_only_in_the_tenant(tenant_a, tenant_b, make_server):
    """The base that snapshot and backup endpoints build on."""
    from types import SimpleNamespace

    from django.http import Http404
    from rest_framework.exceptions import NotFound

    from portal.api.views import ServerChildViewSet

    own, foreign = make_server(tenant_a, "web"), make_server(tenant_b, "web")
    view = ServerChildViewSet()
    view.request, view.kwargs = SimpleNamespace(tenant=tenant_a), {"server_id": str(own.public_id)}
    assert view.get_server() == own
    for server_id in (str(foreign.public_id), "not-a-uuid"):
        view = ServerChildViewSet()
        view.request, view.kwargs = SimpleNamespace(tenant=tenant_a), {"server_id": server_id}
        with pytest.raises((Http404, NotFound)):
            view.get_server()
