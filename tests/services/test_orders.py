from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from services.actions import order_create
from services.models import Order, Plan


@pytest.fixture
def ct_plan(db):
    return Plan.objects.create(name="CT S", slug="ct-s", kind="lxc", cores=1, memory_mb=1024, disk_gb=10, price_monthly=Decimal("4.90"))


def test_an_order_builds_the_plans_size_and_fixes_the_price(tenant_a, ct_plan, ct_image):
    order = order_create(tenant=tenant_a, plan=ct_plan, image=ct_image, hostname="files", password="long-enough")
    server = order.server
    assert (server.cores, server.memory_mb, server.disk_gb) == (1, 1024, 10)
    ct_plan.price_monthly = Decimal("9.90")
    ct_plan.save()
    order.refresh_from_db()
    assert order.price_monthly == Decimal("4.90")


def test_an_image_of_the_wrong_type_is_refused(tenant_a, ct_plan, vm_image):
    with pytest.raises(ValidationError) as info:
        order_create(tenant=tenant_a, plan=ct_plan, image=vm_image, hostname="files", password="long-enough")
    assert "image" in info.value.message_dict
    assert Order.objects.count() == 0


def test_where_jiku_holds_backups_every_new_server_gets_the_tiers_schedule(tenant_a, ct_plan, ct_image):
    from provisioning.models import BackupPolicy
    from services.actions import contract_start
    from services.models import ServiceTier

    contract_start(tenant=tenant_a, tier=ServiceTier.objects.get(slug="gering"))
    order = order_create(tenant=tenant_a, plan=ct_plan, image=ct_image, hostname="files", password="long-enough")
    policy = BackupPolicy.objects.get(server=order.server)
    assert policy.managed_by_jiku and policy.frequency == "daily" and policy.time.hour == 2
    assert (policy.keep_daily, policy.keep_weekly) == (7, 4)
    assert policy.periodic_task.enabled


def test_a_self_managed_tenant_gets_no_schedule_of_its_own(tenant_a, ct_plan, ct_image):
    from provisioning.models import BackupPolicy
    from services.actions import contract_start
    from services.models import ServiceTier

    contract_start(tenant=tenant_a, tier=ServiceTier.objects.get(slug="hoch"))
    order_create(tenant=tenant_a, plan=ct_plan, image=ct_image, hostname="files", password="long-enough")
    assert not BackupPolicy.objects.exists()


def test_the_plans_snapshot_slots_limit_the_ordered_server(tenant_a, ct_image, worker, alice_client):
    from provisioning import actions
    from provisioning.models import Operation
    from tests.provisioning.conftest import wait_done

    plan = Plan.objects.create(name="CT XS", slug="ct-xs", kind="lxc", cores=1, memory_mb=512, disk_gb=4,
                               snapshot_slots=1, price_monthly=Decimal("2.90"))
    assert tenant_a.max_snapshots_per_server > 1
    server = order_create(tenant=tenant_a, plan=plan, image=ct_image, hostname="small", password="long-enough").server
    assert wait_done(server.operations.get()).state == Operation.State.SUCCEEDED
    assert wait_done(actions.snapshot_create(server=server, name="first")).state == Operation.State.SUCCEEDED
    with pytest.raises(ValidationError, match="may keep 1 snapshots"):
        actions.snapshot_create(server=server, name="second")
    assert "1 of 1" in alice_client.get(f"/servers/{server.public_id}/snapshots/").content.decode()


def test_an_order_waiting_for_a_new_node_waits_until_its_appliance_is_fetched_there(tenant_a, cluster, pve, worker):
    from provisioning import actions
    from provisioning.models import Image, Node, Operation
    from provisioning.reconcile import reconcile_cluster
    from services.actions import order_place
    from tests.provisioning.conftest import wait_done, wait_for

    pve.fail_node("pve3")  # the customer's new VDS, still being installed
    reconcile_cluster(cluster)
    image, op = actions.appliance_import(cluster=cluster, template="debian-12-turnkey-nextcloud_18.1-1_amd64.tar.gz")
    wait_done(op)
    actions.image_approve(image=image, approved=True)
    plan = Plan.objects.create(name="CT M", slug="ct-m", kind="lxc", cores=1, memory_mb=1024, disk_gb=8, price_monthly=Decimal("9.90"))
    order = order_create(tenant=tenant_a, plan=plan, image=image, hostname="cloud", node=Node.objects.get(name="pve3"), pending=True)

    pve.recover_node("pve3")
    reconcile_cluster(cluster)
    assert order_place(order=order).state == Order.State.PENDING, "not placed on a node without the file"
    fetch = Operation.objects.filter(kind=Operation.Kind.DOWNLOAD).latest("created_at")
    assert fetch.params["nodes"] == ["pve3"]
    assert order_place(order=order).state == Order.State.PENDING
    assert Operation.objects.filter(kind=Operation.Kind.DOWNLOAD).count() == 2, "one fetch, not one per pass"

    wait_done(fetch)
    assert Image.objects.get(pk=image.pk).nodes == ["pve", "pve2", "pve3"]
    order = order_place(order=order)
    assert order.state == Order.State.PLACED and order.server.node.name == "pve3"
    wait_for(lambda: order.server.operations.filter(state=Operation.State.SUCCEEDED).exists(), message="the build")
