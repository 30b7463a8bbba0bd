"""A sold VDS is brought online by staff: the waiting node says what to do, "check now" links the
node that joined the cluster, compares it with what was sold and builds the waiting servers."""

from decimal import Decimal

from django.urls import reverse

from provisioning import actions
from provisioning.models import Node, Operation
from services.actions import order_create
from services.models import Order, Plan
from tests.provisioning.conftest import wait_for
from tests.provisioning.test_reconcile import prox


def sold_vds(tenant, cluster, image, *, cores=6, memory_mb=24 * 1024, disk_gb=400):
    node = actions.node_register_vds(cluster=cluster, name="vds-alpha", tenant=tenant, cores=cores, memory_mb=memory_mb,
                                     disk_gb=disk_gb)
    plan = Plan.objects.create(name="CT S", slug="ct-s", kind="lxc", cores=1, memory_mb=1024, disk_gb=10,
                               price_monthly=Decimal("4.90"))
    for hostname in ("files", "wiki"):
        order_create(tenant=tenant, plan=plan, image=image, hostname=hostname, node=node, pending=True)
    return node


def test_the_waiting_node_lists_its_orders_and_the_steps_to_bring_it_online(tenant_a, cluster, ct_image, otto_client):
    node = sold_vds(tenant_a, cluster, ct_image)
    page = otto_client.get(reverse("staff:node", args=[node.pk])).content.decode()
    assert "Waiting for installation" in page and "pvecm add" in page and "vds-alpha" in page
    assert "files" in page and "wiki" in page, "the waiting orders are listed"
    assert "hardware virtualisation" in page, "a nested VDS gets the note"
    assert "Check now" in page
    assert "pveam download local debian-12-standard_12.7-1_amd64.tar.zst" in page


def test_check_now_links_the_joined_node_and_builds_the_waiting_servers(tenant_a, cluster, ct_image, pve, worker, otto_client):
    node = sold_vds(tenant_a, cluster, ct_image)
    response = otto_client.post(reverse("staff:node_check", args=[node.pk]), follow=True)
    assert "has not joined the cluster yet" in response.content.decode()
    assert Node.objects.get(pk=node.pk).status == Node.Status.AWAITING

    pve.join_node("vds-alpha", cores=6, memory_gb=24, disk_gb=400)
    # Step 1 of the page's instructions on the new node: the catalogue's container templates.
    prox(pve).nodes("vds-alpha").aplinfo.post(storage="local", template="debian-12-standard_12.7-1_amd64.tar.zst")
    pve.wait_idle()
    page = otto_client.post(reverse("staff:node_check", args=[node.pk]), follow=True).content.decode()
    node.refresh_from_db()
    assert node.status == Node.Status.ONLINE and node.dedicated_tenant == tenant_a
    assert "2 waiting order(s) were placed" in page and "Less than was sold" not in page
    assert "lacks these container templates" not in page
    orders = Order.objects.filter(node=node)
    assert all(o.state == Order.State.PLACED for o in orders)
    wait_for(lambda: Operation.objects.filter(kind="create", state="succeeded").count() == 2, timeout=60, message="builds")
    assert {o.server.node.name for o in orders.select_related("server__node")} == {"vds-alpha"}


def test_a_node_that_joins_smaller_than_sold_is_flagged(tenant_a, cluster, ct_image, pve, otto_client):
    node = sold_vds(tenant_a, cluster, ct_image, cores=8, memory_mb=32 * 1024)
    pve.join_node("vds-alpha", cores=4, memory_gb=32, disk_gb=400)
    page = otto_client.post(reverse("staff:node_check", args=[node.pk]), follow=True).content.decode()
    assert "Less than was sold" in page and "sold 8, found 4" in page
    assert "lacks these container templates" in page and "debian-12-standard" in page
    overview = otto_client.get(reverse("staff:overview")).content.decode()
    assert "less than sold" in overview
