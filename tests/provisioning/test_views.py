"""Server pages: tenant isolation, roles, form errors at the field, live progress from the DB."""

from html import escape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from provisioning import actions
from provisioning.models import Operation, Server

from .conftest import wait_done
from .test_recipes_inline import built, ct, drive, inline_cluster  # noqa: F401 - fixtures


def server_urls(server):
    pid = server.public_id
    return [
        ("get", reverse("provisioning:server_detail", args=[pid])),
        ("get", reverse("provisioning:server_live", args=[pid])),
        ("post", reverse("provisioning:server_power", args=[pid, "stop"])),
        ("post", reverse("provisioning:server_resize", args=[pid])),
        ("post", reverse("provisioning:server_rename", args=[pid])),
        ("post", reverse("provisioning:server_reinstall", args=[pid])),
        ("post", reverse("provisioning:server_delete", args=[pid])),
        ("post", reverse("provisioning:snapshot_create", args=[pid])),
        ("post", reverse("provisioning:snapshot_before_update", args=[pid])),
        ("post", reverse("provisioning:snapshot_rollback", args=[pid, "snap"])),
        ("post", reverse("provisioning:snapshot_delete", args=[pid, "snap"])),
        ("post", reverse("provisioning:backup_create", args=[pid])),
        ("post", reverse("provisioning:backup_policy", args=[pid])),
        ("post", reverse("provisioning:ha_toggle", args=[pid])),
        ("post", reverse("provisioning:staging_create", args=[pid])),
        ("post", reverse("provisioning:staging_promote", args=[pid])),
    ]


def backup_urls(backup):
    return [
        ("post", reverse("provisioning:backup_restore", args=[backup.public_id])),
        ("post", reverse("provisioning:backup_delete", args=[backup.public_id])),
        ("post", reverse("provisioning:backup_protect", args=[backup.public_id])),
    ]


@pytest.fixture
def alice_backup(alice_server):
    from django.utils import timezone

    from provisioning.models import Backup

    return Backup.objects.create(
        tenant=alice_server.tenant, server=alice_server, cluster=alice_server.cluster, node="pve", storage="backup",
        volid="backup:backup/vzdump-lxc-100-2026_11_26-01_00_00.tar.zst", kind="lxc", hostname="web-01",
        created_at=timezone.now(),
    )


def test_other_tenants_get_404_for_every_backup_url_and_see_none(alice_backup, charlie_client):
    for method, url in backup_urls(alice_backup):
        assert getattr(charlie_client, method)(url, {"target": "new", "hostname": "x", "protected": "1"}).status_code == 404
    assert alice_backup.hostname not in charlie_client.get(reverse("provisioning:backup_list")).content.decode()
    assert Operation.objects.filter(kind__in=["restore", "backup_delete", "backup_protect"]).count() == 0


@pytest.fixture
def alice_server(tenant_a, ct_image):
    return actions.server_create(tenant=tenant_a, image=ct_image, hostname="web-01", cores=1, memory_mb=512, disk_gb=8, password="long-enough")


def test_other_tenants_get_404_for_every_server_url(alice_server, charlie_client):
    for method, url in server_urls(alice_server):
        response = getattr(charlie_client, method)(url, {"confirm_hostname": "web-01", "hostname": "x", "cores": 1, "memory_mb": 512, "disk_gb": 9})
        assert response.status_code == 404, url
    alice_server.refresh_from_db()
    assert alice_server.status == Server.Status.BUILDING and alice_server.operations.count() == 1


def test_a_viewer_sees_but_cannot_change(alice_server, bob, bob_client):
    bob.memberships.update(role="viewer")
    assert bob_client.get(reverse("provisioning:server_detail", args=[alice_server.public_id])).status_code == 200
    for method, url in server_urls(alice_server):
        if method == "post":
            assert bob_client.post(url, {"confirm_hostname": "web-01"}).status_code == 403, url
    assert bob_client.get(reverse("provisioning:server_create")).status_code == 403


def test_the_order_form_shows_errors_at_the_field_and_creates_nothing(alice_client, tenant_a, vm_image):
    tenant_a.max_memory_mb = 4096
    tenant_a.save()
    response = alice_client.post(
        reverse("provisioning:server_create"),
        {"image": vm_image.pk, "hostname": "Bad_Name", "cores": 1, "memory_gb": "8", "disk_gb": 10, "password": "long-enough"},
    )
    assert response.status_code == 200
    assert "hostname" in response.context["form"].errors
    response = alice_client.post(
        reverse("provisioning:server_create"),
        {"image": vm_image.pk, "hostname": "web-01", "cores": 1, "memory_gb": "8", "disk_gb": 10, "password": "long-enough"},
    )
    assert response.context["form"].errors["memory_gb"] == ["Your tenant may use 4\u00a0GB memory; this would make 8\u00a0GB."]
    assert Server.objects.count() == 0


def test_the_order_form_builds_a_server_and_the_page_follows_it(alice_client, vm_image, worker):
    response = alice_client.post(
        reverse("provisioning:server_create"),
        {"image": vm_image.pk, "hostname": "web-01", "cores": 1, "memory_gb": "1", "disk_gb": 10, "password": "long-enough"},
    )
    server = Server.objects.get()
    assert response.status_code == 302 and str(server.public_id) in response["Location"]
    live = alice_client.get(reverse("provisioning:server_live", args=[server.public_id]))
    assert live.status_code == 200
    wait_done(server.operations.get())
    live = alice_client.get(reverse("provisioning:server_live", args=[server.public_id])).content.decode()
    assert "ssh debian@192.0.2.10" in live
    assert "hx-trigger" not in live, "polling stops once nothing is going on"


def test_the_server_list_uses_a_constant_number_of_queries(alice_client, tenant_a, ct_image):
    def queries():
        with CaptureQueriesContext(connection) as ctx:
            assert alice_client.get(reverse("provisioning:server_list")).status_code == 200
        return len(ctx)

    Server.objects.create(tenant=tenant_a, cluster=ct_image.cluster, kind="lxc", hostname="s0", cores=1, memory_mb=512, disk_gb=8, image=ct_image)
    few = queries()
    Server.objects.bulk_create(
        Server(tenant=tenant_a, cluster=ct_image.cluster, kind="lxc", hostname=f"s{i}", cores=1, memory_mb=512, disk_gb=8, image=ct_image)
        for i in range(1, 60)
    )
    assert queries() == few


def test_the_server_page_shows_managed_by_jiku_instead_of_the_schedule_form(alice_client, alice_server, tenant_a):
    from tenants.models import Responsibility

    url = reverse("provisioning:server_backups", args=[alice_server.public_id])
    page = alice_client.get(url).content.decode()
    assert "Save schedule" in page and "Managed by JIKU" not in page
    Responsibility.objects.create(tenant=tenant_a, duty="backups", party="jiku")
    page = alice_client.get(url).content.decode()
    assert "Save schedule" not in page and "Managed by JIKU" in page
    response = alice_client.post(reverse("provisioning:backup_policy", args=[alice_server.public_id]), {"frequency": "daily", "weekday": 0, "time": "02:00", "keep_last": 3, "keep_daily": 7, "keep_weekly": 4, "keep_monthly": 0}, follow=True)
    assert "JIKU manages this" in response.content.decode()
    from provisioning.models import BackupPolicy

    assert not BackupPolicy.objects.exists()


def test_graphs_come_from_the_cache_and_a_worker_fills_it(alice_client, tenant_a, ct_image, pve, worker, settings):
    from django.core.cache import cache

    server = actions.server_create(tenant=tenant_a, image=ct_image, hostname="web-01", cores=1, memory_mb=512, disk_gb=8, password="long-enough")
    wait_done(server.operations.get())
    cache.clear()
    url = reverse("provisioning:server_graphs", args=[server.public_id])
    before = pve.request_counts().get("GET /nodes/{node}/lxc/{vmid}/rrddata", 0)
    first = alice_client.get(url + "?timeframe=day").content.decode()
    assert "Loading the graphs" in first  # the page itself never waits for Proxmox
    from .conftest import wait_for

    wait_for(lambda: "polyline" in alice_client.get(url + "?timeframe=day").content.decode(), message="graphs")
    page = alice_client.get(url + "?timeframe=day").content.decode()
    assert page.count("<polyline") == 4 and 'points=""' not in page
    # A fetch reads the AVERAGE rows for the lines and the MAX rows for the peaks; once the cache
    # holds them, reading the page again asks Proxmox nothing.
    fetched = pve.request_counts()["GET /nodes/{node}/lxc/{vmid}/rrddata"]
    assert fetched >= before + 2
    for _ in range(3):
        alice_client.get(url + "?timeframe=day")
    assert pve.request_counts()["GET /nodes/{node}/lxc/{vmid}/rrddata"] == fetched


def test_the_server_page_shows_who_did_what_to_it(alice_client, alice_server, bob):
    from tenants.audit import audit_record

    audit_record(action="server.reboot", tenant=alice_server.tenant, actor=bob, obj=alice_server)
    page = alice_client.get(reverse("provisioning:server_detail", args=[alice_server.public_id])).content.decode()
    assert "Server web-01 created" in page and "Server web-01 rebooted" in page and "bob@example.com" in page


def test_the_graphs_block_carries_the_chart_data_for_the_browser(alice_client, tenant_a, ct_image, pve, worker):
    from .conftest import wait_for

    server = actions.server_create(tenant=tenant_a, image=ct_image, hostname="web-01", cores=1, memory_mb=512, disk_gb=8, password="long-enough")
    wait_done(server.operations.get())
    url = reverse("provisioning:server_graphs", args=[server.public_id]) + "?timeframe=month"
    wait_for(lambda: "data-series" in alice_client.get(url).content.decode(), message="chart data")
    page = alice_client.get(url).content.decode()
    assert "&quot;cpu&quot;: [" in page and "Month" in page


def test_the_page_says_done_only_once_proxmox_has_done_it_and_why_it_failed(alice_client, tenant_a, ct, pve):  # noqa: F811
    server = built(tenant_a, ct)
    live = reverse("provisioning:server_live", args=[server.public_id])
    answer = alice_client.post(reverse("provisioning:server_power", args=[server.public_id, "shutdown"]),
                               HTTP_HX_REQUEST="true").content.decode()
    op = server.operations.get(kind="shutdown")
    assert "Shut down is queued" in answer and f"watch={op.public_id}" in answer
    waiting = alice_client.get(f"{live}?full=1&watch={op.public_id}").content.decode()
    assert "is done" not in waiting and f"watch={op.public_id}" in waiting  # still polling for it
    drive(op)
    done = alice_client.get(f"{live}?full=1&watch={op.public_id}").content.decode()
    assert "Shut down is done." in done and "watch=" not in done and 'hx-trigger="every' not in done

    # On a section the page loads again when it is done: the note waits for that page.
    alice_client.post(reverse("provisioning:server_power", args=[server.public_id, "start"]), HTTP_HX_REQUEST="true")
    op = drive(server.operations.filter(kind="start").latest("id"))
    polled = alice_client.get(f"{live}?refresh=1&watch={op.public_id}")
    assert "is done" not in polled.content.decode() and polled["HX-Trigger"] == "server-operation-finished"
    assert "Start is done." in alice_client.get(reverse("provisioning:server_snapshots", args=[server.public_id])).content.decode()
    alice_client.post(reverse("provisioning:server_power", args=[server.public_id, "shutdown"]), HTTP_HX_REQUEST="true")
    drive(server.operations.filter(kind="shutdown").latest("id"))

    pve.add_fault(method="POST", path=r"/status/start$", task_error="start failed: no such storage")
    alice_client.post(reverse("provisioning:server_power", args=[server.public_id, "start"]), HTTP_HX_REQUEST="true")
    op = drive(server.operations.filter(kind="start").latest("id"))
    failed = alice_client.get(f"{live}?full=1&watch={op.public_id}").content.decode()
    assert f"Start failed: {escape(op.customer_error)}" in failed and "no such storage" not in failed
