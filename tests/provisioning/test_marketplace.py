"""Marketplace appliances: downloaded and checked by Proxmox, approved by staff, then orderable."""

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from provisioning import actions
from provisioning.models import Image, Node, Operation
from provisioning.reconcile import reconcile_cluster
from tests.conftest import make_user

from .conftest import wait_done

NEXTCLOUD = "debian-12-turnkey-nextcloud_18.1-1_amd64.tar.gz"


def templates(pve, node):
    return {v["volid"] for v in pve.state()["storage"][f"{node}/local"]["content"]}


def test_an_appliance_is_offered_only_after_download_and_approval(tenant_a, cluster, pve, worker):
    image, op = actions.appliance_import(cluster=cluster, template=NEXTCLOUD, name="Nextcloud (TurnKey)")
    assert not Image.available_to(tenant_a).filter(pk=image.pk).exists()
    wait_done(op)
    assert op.state == Operation.State.SUCCEEDED, op.error
    image.refresh_from_db()
    assert image.status == Image.Status.READY and len(image.checksum) == 128  # the index's sha512
    for node in ("pve", "pve2", "pve3"):
        assert f"local:vztmpl/{NEXTCLOUD}" in templates(pve, node)
    assert not Image.available_to(tenant_a).filter(pk=image.pk).exists(), "not before staff approved it"
    actions.image_approve(image=image, approved=True)
    assert Image.available_to(tenant_a).filter(pk=image.pk).exists()
    server = actions.server_create(tenant=tenant_a, image=image, hostname="cloud", cores=2, memory_mb=2048, disk_gb=16, password="long-enough")
    assert wait_done(server.operations.get()).state == Operation.State.SUCCEEDED


def test_a_failed_download_is_visible_and_never_offered(tenant_a, cluster, pve, worker):
    pve.add_fault(method="POST", path=r"/aplinfo$", task_error="checksum mismatch for the downloaded file", count=1)
    image, op = actions.appliance_import(cluster=cluster, template=NEXTCLOUD)
    wait_done(op)
    image.refresh_from_db()
    assert image.status == Image.Status.FAILED and "checksum mismatch" in image.status_error
    with pytest.raises(ValidationError, match="verified download"):
        actions.image_approve(image=image, approved=True)
    assert image not in Image.available_to(tenant_a)


@pytest.mark.parametrize("template, message", [("../etc/passwd", "file name"), ("nextcloud", "file name")])
def test_bad_template_names_are_refused(cluster, pve, template, message):
    with pytest.raises(ValidationError, match=message):
        actions.appliance_import(cluster=cluster, template=template)
    assert not Image.objects.filter(source="appliance").exists() and not Operation.objects.exists()


def test_an_unknown_template_fails_with_a_clear_reason(cluster, pve, worker):
    image, op = actions.appliance_import(cluster=cluster, template="no-such-appliance_1.0_amd64.tar.gz")
    wait_done(op)
    image.refresh_from_db()
    assert op.state == Operation.State.FAILED and "no such template" in op.error and image.status == Image.Status.FAILED


def test_staff_import_and_approve_on_the_marketplace_page(cluster, pve, worker, alice_client):
    admin = make_user("ops@jiku.example", is_staff=True, is_superuser=True)
    staff = Client()
    staff.force_login(admin)
    response = staff.post("/staff/marketplace/", {"form": "appliance", "appliance-cluster": cluster.pk, "appliance-template": NEXTCLOUD, "appliance-name": "Nextcloud"})
    assert response.status_code == 302
    image = Image.objects.get(source="appliance")
    wait_done(Operation.objects.get(kind="download"))
    staff.post(f"/staff/marketplace/{image.pk}/approve/", {"approved": "1"})
    image.refresh_from_db()
    assert image.approved
    assert "Nextcloud" in staff.get("/staff/marketplace/").content.decode()
    assert alice_client.get("/staff/marketplace/").status_code == 403


def test_an_appliance_is_placed_only_where_it_was_downloaded_until_staff_fetch_it_onto_new_nodes(tenant_a, cluster, pve, worker):
    pve.fail_node("pve3")
    reconcile_cluster(cluster)
    image, op = actions.appliance_import(cluster=cluster, template=NEXTCLOUD)
    wait_done(op)
    actions.image_approve(image=image, approved=True)
    pve.recover_node("pve3")
    reconcile_cluster(cluster)
    image.refresh_from_db()
    assert image.nodes == ["pve", "pve2"] and f"local:vztmpl/{NEXTCLOUD}" not in templates(pve, "pve3")

    # pve3 is the emptiest node now, but it lacks the file: the order goes elsewhere and builds.
    server = actions.server_create(tenant=tenant_a, image=image, hostname="cloud", cores=1, memory_mb=1024, disk_gb=8, password="long-enough")
    assert server.node.name in ("pve", "pve2")
    assert wait_done(server.operations.get()).state == Operation.State.SUCCEEDED
    with pytest.raises(ValidationError, match="not on node pve3"):
        actions.server_create(tenant=tenant_a, image=image, hostname="pinned", cores=1, memory_mb=1024, disk_gb=8,
                              password="long-enough", node=Node.objects.get(name="pve3"))

    staff = Client()
    staff.force_login(make_user("ops@jiku.example", is_staff=True, is_superuser=True))
    assert "Fetch onto pve3" in staff.get("/staff/marketplace/").content.decode()
    assert staff.post(f"/staff/marketplace/{image.pk}/fetch/").status_code == 302
    assert wait_done(Operation.objects.filter(kind=Operation.Kind.DOWNLOAD).latest("created_at")).state == Operation.State.SUCCEEDED
    image.refresh_from_db()
    assert image.nodes == ["pve", "pve2", "pve3"] and f"local:vztmpl/{NEXTCLOUD}" in templates(pve, "pve3")
    with pytest.raises(ValidationError, match="has this image already"):
        actions.image_fetch_to_new_nodes(image=image)
    pinned = actions.server_create(tenant=tenant_a, image=image, hostname="pinned", cores=1, memory_mb=1024, disk_gb=8,
                                   password="long-enough", node=Node.objects.get(name="pve3"))
    assert wait_done(pinned.operations.get()).state == Operation.State.SUCCEEDED
