"""Application containers (OCI): pinned to the registry's digest, pulled by Proxmox, approved by staff.

pvesim stands in for Docker Hub as it stands in for Proxmox: its registry answers the OCI
distribution API, and its oci-registry-pull pulls from there.
"""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from provisioning import actions
from provisioning.models import Image, Node, Operation
from provisioning.reconcile import reconcile_cluster
from services.actions import order_create, order_place
from services.models import Order, Plan
from tests.conftest import make_user

from .conftest import wait_done, wait_for

NODES = ("pve", "pve2", "pve3")


@pytest.fixture
def registry(pve, settings):
    settings.OCI_REGISTRY_ENDPOINTS = {"docker.io": f"https://127.0.0.1:{pve.port}/registry"}
    settings.OCI_REGISTRY_CA = pve.ca_cert_path
    return pve


def stored(pve, volid):
    return {node for node in NODES if volid in {v["volid"] for v in pve.state()["storage"][f"{node}/local"]["content"]}}


def test_an_application_container_is_pinned_pulled_everywhere_and_offered_after_approval(tenant_a, cluster, registry, worker, alice_client):
    image, op = actions.oci_import(cluster=cluster, reference="nginx:1.27", name="nginx")
    assert wait_done(op).state == Operation.State.SUCCEEDED, op.error
    image.refresh_from_db()
    assert image.status == Image.Status.READY
    assert image.checksum == registry.registry_digest("library/nginx", "1.27")
    assert image.oci_reference == "docker.io/library/nginx:1.27"
    assert stored(registry, image.volid) == set(NODES)
    assert not Image.available_to(tenant_a).filter(pk=image.pk).exists(), "not before staff approved it"

    actions.image_approve(image=image, approved=True)
    server = actions.server_create(tenant=tenant_a, image=image, hostname="web", cores=1, memory_mb=512, disk_gb=4, password="long-enough")
    assert wait_done(server.operations.get()).state == Operation.State.SUCCEEDED
    server.refresh_from_db()
    page = alice_client.get(f"/servers/{server.public_id}/").content.decode()
    assert "runs docker.io/library/nginx:1.27; its service answers at" in page and server.ipv4 in page


def test_a_tag_that_moves_during_the_pull_is_refused_and_the_files_removed(tenant_a, cluster, registry, worker):
    registry.set_time_scale(0.5)  # a pull takes a few seconds, long enough to move the tag meanwhile
    image, op = actions.oci_import(cluster=cluster, reference="docker.io/library/redis:7")
    wait_for(lambda: Operation.objects.filter(pk=op.pk, step_name="download").exclude(upid="").exists(), message="the first pull")
    moved = registry.registry_push("library/redis", "7")
    assert wait_done(op, timeout=60).state == Operation.State.FAILED
    image.refresh_from_db()
    assert image.status == Image.Status.FAILED and "moved" in image.status_error and moved in image.status_error
    # Proxmox deletes files in a task of its own: the files go shortly after the failure.
    wait_for(lambda: stored(registry, image.volid) == set(), timeout=10, message="no file of unknown content to stay")
    with pytest.raises(ValidationError, match="verified"):
        actions.image_approve(image=image, approved=True)
    assert not Image.available_to(tenant_a).filter(pk=image.pk).exists()


def test_fetching_onto_a_new_node_refuses_a_moved_tag_and_keeps_the_image_offered(tenant_a, cluster, registry, worker):
    registry.fail_node("pve3")
    reconcile_cluster(cluster)
    image, op = actions.oci_import(cluster=cluster, reference="nginx:1.27")
    assert wait_done(op).state == Operation.State.SUCCEEDED, op.error
    actions.image_approve(image=image, approved=True)
    registry.recover_node("pve3")
    reconcile_cluster(cluster)
    image.refresh_from_db()
    pinned = image.checksum
    registry.registry_push("library/nginx", "1.27")

    assert wait_done(actions.image_fetch_to_new_nodes(image=image)).state == Operation.State.FAILED
    image.refresh_from_db()
    assert image.nodes == ["pve", "pve2"] and stored(registry, image.volid) == {"pve", "pve2"}
    assert image.checksum == pinned and f"not at the pinned {pinned}" in image.status_error
    assert Image.available_to(tenant_a).filter(pk=image.pk).exists(), "still offered where it is"

    # An order waiting for pve3 (a new VDS) now fails with the reason instead of waiting forever.
    plan = Plan.objects.create(name="CT S", slug="ct-s", kind="lxc", cores=1, memory_mb=512, disk_gb=4, price_monthly=Decimal("4.90"))
    order = order_create(tenant=tenant_a, plan=plan, image=image, hostname="web", node=Node.objects.get(name="pve3"), pending=True)
    order = order_place(order=order)
    assert order.state == Order.State.FAILED and "could not be fetched onto node pve3" in order.error


def test_a_digest_given_by_staff_must_still_be_the_tags(cluster, registry, worker):
    image, op = actions.oci_import(cluster=cluster, reference="nginx:alpine@sha256:" + "0" * 64)
    assert wait_done(op).state == Operation.State.FAILED
    image.refresh_from_db()
    assert "not at the pinned sha256:000" in image.status_error
    assert stored(registry, image.volid) == set(), "nothing was pulled"

    current = registry.registry_digest("library/nginx", "alpine")
    image.delete()
    image, op = actions.oci_import(cluster=cluster, reference=f"nginx:alpine@{current}")
    assert wait_done(op).state == Operation.State.SUCCEEDED, op.error
    image.refresh_from_db()
    assert image.checksum == current


def test_an_unknown_tag_fails_with_the_registrys_answer(cluster, registry, worker):
    image, op = actions.oci_import(cluster=cluster, reference="nginx:9.9")
    assert wait_done(op).state == Operation.State.FAILED
    image.refresh_from_db()
    assert "does not know docker.io/library/nginx:9.9" in image.status_error


@pytest.mark.parametrize(
    "reference, message",
    [
        ("nginx", "with its tag"),
        ("Nginx:1.27", "lower-case"),
        ("nginx:1.27@sha256:xyz", "64 hexadecimal"),
        ("quay.io/prometheus/node-exporter:v1.8", "only from these registries: docker.io"),
    ],
)
def test_bad_references_are_refused_at_the_field(cluster, registry, reference, message):
    with pytest.raises(ValidationError) as err:
        actions.oci_import(cluster=cluster, reference=reference)
    assert message in " ".join(err.value.message_dict["reference"])
    assert not Image.objects.filter(source=Image.Source.OCI).exists() and not Operation.objects.exists()


def test_staff_pull_an_image_on_the_marketplace_page(cluster, registry, worker):
    staff = Client()
    staff.force_login(make_user("ops@jiku.example", is_staff=True, is_superuser=True))
    response = staff.post("/staff/marketplace/", {"form": "oci", "oci-cluster": cluster.pk, "oci-reference": "postgres"})
    assert response.status_code == 200 and "e.g. docker.io/library/nginx:1.27" in response.content.decode()
    response = staff.post("/staff/marketplace/", {"form": "oci", "oci-cluster": cluster.pk, "oci-reference": "postgres:17"})
    assert response.status_code == 302
    wait_done(Operation.objects.get(kind=Operation.Kind.DOWNLOAD))
    image = Image.objects.get(source=Image.Source.OCI)
    page = staff.get("/staff/marketplace/").content.decode()
    assert "docker.io/library/postgres:17" in page and image.checksum[:20] in page


def test_a_stale_file_of_the_same_name_is_replaced_not_trusted(cluster, registry, worker):
    from provisioning.proxmox import PVE

    pve_api = PVE(cluster)
    upid = pve_api.oci_pull(node="pve2", storage="local", reference="docker.io/library/redis:7", filename="library-nginx_1.27.tar")
    wait_for(lambda: pve_api.task_status("pve2", upid)["status"] == "stopped", message="the stray pull")
    image, op = actions.oci_import(cluster=cluster, reference="nginx:1.27")
    assert wait_done(op).state == Operation.State.SUCCEEDED, op.error
    sizes = {
        node: next(v["size"] for v in registry.state()["storage"][f"{node}/local"]["content"] if v["volid"] == image.volid)
        for node in NODES
    }
    assert len(set(sizes.values())) == 1, f"every node holds the same, pinned image: {sizes}"
