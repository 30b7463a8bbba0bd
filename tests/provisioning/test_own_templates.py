"""JIKU's own templates: a prepared server becomes a template that customers can order from."""

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from provisioning import actions
from provisioning.models import Image, Node, Operation, Server
from tests.conftest import make_user

from .conftest import wait_done


def build(tenant, image, hostname, **extra):
    server = actions.server_create(tenant=tenant, image=image, hostname=hostname, cores=1, memory_mb=1024, disk_gb=8, **extra)
    op = wait_done(server.operations.get())
    assert op.state == Operation.State.SUCCEEDED, op.error
    server.refresh_from_db()
    return server


def guest(pve, vmid):
    return next(g for g in pve.state()["guests"] if g["vmid"] == vmid)


def test_a_prepared_server_becomes_a_template_customers_order_from(tenant_a, tenant_b, vm_image, cluster, pve, worker):
    prepared = build(tenant_a, vm_image, "shop-base", node=Node.objects.get(name="pve"))
    vmid = prepared.vmid
    image, op = actions.template_from_server(server=prepared, name="Webshop", description="Shop on Debian", for_everyone=True)
    assert wait_done(op).state == Operation.State.SUCCEEDED, op.error
    image.refresh_from_db()
    prepared.refresh_from_db()
    assert image.status == Image.Status.READY and (image.template_vmid, image.template_node) == (vmid, "pve")
    assert guest(pve, vmid).get("template") in (1, True)
    assert prepared.status == Server.Status.DELETED and prepared.vmid is None, "the server left its tenant"
    assert actions.quota_usage(tenant_a)["servers"] == 0
    assert not Image.available_to(tenant_b).filter(pk=image.pk).exists(), "not before staff approved it"

    actions.image_approve(image=image, approved=True)
    copy = build(tenant_b, image, "my-shop", ssh_keys=(), password="long-enough")
    # Its disks are local to pve, so the copy goes there although the other nodes are as free.
    assert copy.node.name == "pve"
    assert copy.vmid != vmid, "the template keeps its VMID"
    assert guest(pve, copy.vmid)["node"] == "pve"


def test_a_template_made_for_one_tenant_is_offered_to_that_tenant_only(tenant_a, tenant_b, vm_image, cluster, pve, worker):
    prepared = build(tenant_a, vm_image, "base")
    image, op = actions.template_from_server(server=prepared, name="Alpha base")
    wait_done(op)
    actions.image_approve(image=image, approved=True)
    assert Image.available_to(tenant_a).filter(pk=image.pk).exists()
    assert not Image.available_to(tenant_b).filter(pk=image.pk).exists()


def test_a_failed_conversion_gives_the_server_back(tenant_a, vm_image, cluster, pve, worker):
    prepared = build(tenant_a, vm_image, "base")
    pve.add_fault(method="POST", path=r"/template$", task_error="storage does not support base images", count=1)
    image, op = actions.template_from_server(server=prepared, name="Broken")
    assert wait_done(op).state == Operation.State.FAILED
    image.refresh_from_db()
    prepared.refresh_from_db()
    assert image.status == Image.Status.FAILED and "base images" in image.status_error
    assert prepared.status == Server.Status.STOPPED and prepared.vmid and "template failed" in prepared.reason
    assert "base images" in op.error  # Proxmox's own words, for staff
    with pytest.raises(ValidationError, match="verified"):
        actions.image_approve(image=image, approved=True)


def test_unsuitable_servers_are_refused_and_nothing_changes(tenant_a, vm_image, ct_image, cluster, pve, worker):
    vm = build(tenant_a, vm_image, "vm")
    ct = build(tenant_a, ct_image, "ct")
    actions.image_approve(image=vm_image, approved=True)
    before = Operation.objects.count()
    with pytest.raises(ValidationError, match="cloud-init"):
        actions.template_from_server(server=ct, name="Container")
    with pytest.raises(ValidationError) as err:
        actions.template_from_server(server=vm, name="  ")
    assert "name" in err.value.error_dict
    with pytest.raises(ValidationError) as err:
        actions.template_from_server(server=vm, name=vm_image.name)
    assert "name" in err.value.error_dict
    assert Operation.objects.count() == before
    assert not Image.objects.filter(source=Image.Source.OWN).exists()
    vm.refresh_from_db()
    assert vm.status == Server.Status.RUNNING


def test_a_reinstall_from_a_template_on_another_node_is_refused(tenant_a, vm_image, cluster, pve, worker, alice_client):
    prepared = build(tenant_a, vm_image, "base", node=Node.objects.get(name="pve"))
    image, op = actions.template_from_server(server=prepared, name="Base", for_everyone=True)
    wait_done(op)
    actions.image_approve(image=image, approved=True)
    elsewhere = build(tenant_a, vm_image, "other", node=Node.objects.get(name="pve2"))
    build(tenant_a, vm_image, "base-2", node=Node.objects.get(name="pve"))
    with pytest.raises(ValidationError, match="can only be installed on node pve"):
        actions.server_reinstall(server=elsewhere, image=image, password="long-enough")
    elsewhere.refresh_from_db()
    assert elsewhere.image == vm_image and elsewhere.status == Server.Status.RUNNING
    page = alice_client.get(f"/servers/{elsewhere.public_id}/settings/").content.decode()
    assert f'<option value="{vm_image.pk}"' in page and f'<option value="{image.pk}"' not in page, "not offered there"
    page = alice_client.get(f"/servers/{Server.objects.get(hostname='base-2').public_id}/settings/").content.decode()
    assert f'<option value="{image.pk}"' in page


def test_staff_make_a_template_on_the_marketplace_page(tenant_a, vm_image, cluster, pve, worker, alice_client):
    prepared = build(tenant_a, vm_image, "base")
    staff = Client()
    staff.force_login(make_user("ops@jiku.example", is_staff=True, is_superuser=True))
    form = {"form": "template", "template-cluster": cluster.pk, "template-name": "Base"}
    response = staff.post("/staff/marketplace/", {**form, "template-server": 99999})
    assert response.status_code == 200
    assert "No server of this cluster has this VMID." in response.content.decode()
    assert not Image.objects.filter(source=Image.Source.OWN).exists()

    response = staff.post("/staff/marketplace/", {**form, "template-server": prepared.vmid})
    assert response.status_code == 302
    wait_done(Operation.objects.get(kind=Operation.Kind.TEMPLATE))
    page = staff.get("/staff/marketplace/").content.decode()
    assert "Base" in page and f"VMID {prepared.vmid} on {prepared.node.name}" in page
    assert alice_client.get("/staff/marketplace/").status_code == 403
