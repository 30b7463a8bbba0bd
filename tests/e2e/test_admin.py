"""A JIKU admin's night: add a cluster, test it, watch capacity, maintain and drain a node, survive a node failure."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from provisioning import actions, engine
from provisioning.models import Cluster, Image, IPPool, Node, Operation, Server
from tenants.staff_roles import ADMIN
from tests.conftest import PASSWORD, make_staff, make_tenant
from tests.provisioning.conftest import DEBIAN_CT, pve, sim, wait_done, wait_for, worker  # noqa: F401 - fixtures

from .conftest import screenshot

pytestmark = pytest.mark.e2e


def sign_in(page, email):
    page.goto("/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def run_admin_action(page, action, row_text):
    page.goto("/admin/provisioning/cluster/")
    page.locator("tr", has_text=row_text).locator("input[name=_selected_action]").check()
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")


def build(tenant, image, hostname, node):
    server = actions.server_create(tenant=tenant, image=image, hostname=hostname, cores=1, memory_mb=512, disk_gb=4, node=node)
    op = wait_done(server.operations.get())
    assert op.state == Operation.State.SUCCEEDED, op.error
    return server


def node_of(server):
    return Server.objects.select_related("node").get(pk=server.pk).node.name


def test_an_admin_runs_the_platform_through_a_node_failure(page, pve, worker, live_server):  # noqa: F811
    make_staff("dora@jiku.example", ADMIN)
    tenant = make_tenant("Alpha GmbH", "alpha")
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, "dora@jiku.example")

    # Add the cluster in the admin, pointing at the simulator.
    page.goto("/admin/provisioning/cluster/add/")
    page.fill("input[name=name]", "Frankfurt")
    page.fill("input[name=api_url]", f"127.0.0.1:{pve.port}")
    page.fill("input[name=token_id]", pve.token_id)
    page.fill("input[name=token_secret]", pve.token_secret)
    page.fill("textarea[name=ca_cert]", Path(pve.ca_cert_path).read_text())
    page.fill("input[name=backup_storage]", "backup")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("Frankfurt")

    run_admin_action(page, "test_connection", "Frankfurt")
    expect(page.locator(".messagelist")).to_contain_text("Proxmox VE 9.1.1, 3 nodes: pve (online), pve2 (online), pve3 (online)")
    expect(page.locator(".messagelist")).to_contain_text("every privilege")
    run_admin_action(page, "reconcile_now", "Frankfurt")
    expect(page.locator(".messagelist")).to_contain_text("Frankfurt reconciled")

    cluster = Cluster.objects.get(name="Frankfurt")
    IPPool.objects.create(cluster=cluster, name="public", network="192.0.2.0/24", gateway="192.0.2.1",
                          range_start="192.0.2.10", range_end="192.0.2.250")
    image = Image.objects.create(cluster=cluster, name="Debian 12 (container)", kind=Image.Kind.LXC, volid=DEBIAN_CT, min_disk_gb=2)
    nodes = {n.name: n for n in cluster.nodes.all()}
    on_pve2 = [build(tenant, image, f"app-{i}", nodes["pve2"]) for i in range(2)]
    on_pve3 = build(tenant, image, "db", nodes["pve3"])

    # Three nodes with capacity and graphs.
    page.goto("/staff/")
    rows = page.locator("tr[data-node]")
    expect(rows).to_have_count(3)
    expect(page.locator("tr[data-node=pve2] .capbar")).to_have_count(3)
    expect(page.locator("tr[data-node=pve2] svg.spark polyline")).to_have_count(2)
    expect(page.locator("tr[data-node=pve2]")).to_contain_text("2")
    screenshot(page, "staff-overview")

    # Maintenance on pve2: new orders go elsewhere.
    page.click("tr[data-node=pve2] a")
    page.click("text=Put into maintenance")
    expect(page.locator(".messages")).to_contain_text("pve2 is in maintenance now")
    assert Node.objects.get(pk=nodes["pve2"].pk).maintenance
    for i in range(3):
        fresh = actions.server_create(tenant=tenant, image=image, hostname=f"new-{i}", cores=1, memory_mb=512, disk_gb=4)
        assert fresh.node.name != "pve2"

    # Drain pve2: its servers move away.
    page.click("text=Drain node")
    expect(page.locator(".messages")).to_contain_text("pve2 is draining")
    for server in on_pve2:
        wait_for(lambda s=server: node_of(s) != "pve2", timeout=60, message=f"{server.hostname} to leave pve2")
    page.reload()
    expect(page.locator("table.servers")).to_have_count(0)

    # pve3 fails while a stop runs there: the operation stalls, the server is unavailable.
    for op in Operation.objects.filter(state__in=Operation.ACTIVE_STATES):
        wait_done(op, timeout=60)
    pve.set_time_scale(5.0)
    stop = actions.server_power(server=on_pve3, action=Operation.Kind.STOP)
    wait_for(lambda: Operation.objects.get(pk=stop.pk).upid, message="the stop task to start")
    pve.fail_node("pve3")
    pve.set_time_scale(0.0)
    wait_for(lambda: "No route to host" in Operation.objects.get(pk=stop.pk).last_error, message="a transient error")
    page.goto("/staff/")
    page.click(f"#cluster-{cluster.pk} >> text=Reconcile now")
    expect(page.locator("tr[data-node=pve3]")).to_contain_text("Offline")
    page.goto("/staff/operations/")
    expect(page.locator(f"#op-{stop.public_id}")).to_contain_text("No route to host")
    # Its other servers (one moved there by the drain) are unavailable; "db" is busy with the stalled stop.
    moved = [s.hostname for s in Server.objects.filter(node__name="pve3").exclude(pk=on_pve3.pk)]
    assert moved
    for hostname in moved:
        expect(page.locator("table.unavailable")).to_contain_text(hostname)
    expect(page.locator("table.unavailable")).to_contain_text("pve3 is offline")
    screenshot(page, "staff-operations-node-down")

    # The node comes back; the stop fails with Proxmox's words; staff retry it.
    pve.recover_node("pve3")
    Operation.objects.filter(pk=stop.pk).update(not_before=None)
    engine.enqueue(stop.pk)  # nudge the parked operation instead of waiting for its backoff
    wait_for(lambda: Operation.objects.get(pk=stop.pk).state == Operation.State.FAILED, timeout=60, message="the stop to fail")
    page.goto("/staff/operations/")
    row = page.locator(f"#op-{stop.public_id}")
    expect(row).to_contain_text("unexpected status")
    row.locator("text=Retry").click()
    expect(page.locator(".messages")).to_contain_text("queued again")
    assert wait_done(Operation.objects.get(pk=stop.pk)).state == Operation.State.SUCCEEDED
    actions.cluster_reconcile(cluster=cluster)
    on_pve3.refresh_from_db()
    assert on_pve3.status == Server.Status.STOPPED
    page.goto("/staff/operations/")
    expect(page.locator("table.unavailable")).to_have_count(0)
