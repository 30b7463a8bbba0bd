"""The server page in sections, each its own URL: tabs between them, forms come back to their section."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from provisioning.models import Backup, Operation, Snapshot
from provisioning.server_sections import SECTIONS
from tests.staff.conftest import make_servers, offline_cluster  # noqa: F401 - fixture

PAGES = ["server_detail", "server_graphs_page", "server_snapshots", "server_backups", "server_settings", "server_danger"]


@pytest.fixture
def server(tenant_a, offline_cluster):  # noqa: F811
    # Rows only, the cluster unreachable: the sections read the database and never Proxmox.
    return make_servers(tenant_a, offline_cluster, 1)[0]


def url(name, server):
    return reverse(f"provisioning:{name}", args=[server.public_id])


def test_every_section_has_its_own_url_and_the_tabs_link_them_all(alice_client, server):
    for name in PAGES:
        response = alice_client.get(url(name, server))
        assert response.status_code == 200, name
        page = response.content.decode()
        assert 'data-testid="server-tabs"' in page
        for section in SECTIONS:
            assert reverse(section.url_name, args=[server.public_id]) in page, (name, section.key)
        assert page.count('aria-current="page"') == 1
        assert f'href="{url(name, server)}" aria-current="page"' in page, name


def test_each_section_names_itself_in_the_window_title(alice_client, server):
    assert "<title>srv0 · Snapshots" in alice_client.get(url("server_snapshots", server)).content.decode()
    assert "<title>srv0 " in alice_client.get(url("server_detail", server)).content.decode()


def test_each_section_shows_its_own_part_and_only_the_overview_the_history(alice_client, server):
    assert "Activity</h2>" in alice_client.get(url("server_detail", server)).content.decode()
    assert "Take snapshot" in alice_client.get(url("server_snapshots", server)).content.decode()
    backups = alice_client.get(url("server_backups", server)).content.decode()
    assert "Back up now" in backups and "Take snapshot" not in backups and "Activity</h2>" not in backups
    settings = alice_client.get(url("server_settings", server)).content.decode()
    assert "Resize" in settings and "Rename" in settings and "Reinstall" in settings and "High availability" in settings
    assert 'name="confirm_hostname"' in alice_client.get(url("server_danger", server)).content.decode()
    assert 'name="confirm_hostname"' not in settings


def test_every_section_keeps_the_live_status_and_power(alice_client, server):
    for name in PAGES:
        page = alice_client.get(url(name, server)).content.decode()
        assert 'id="server-live"' in page and 'data-testid="power"' in page, name


def test_a_viewer_sees_the_sections_but_not_the_danger_zone(bob, bob_client, server):
    bob.memberships.update(role="viewer")
    for name in PAGES[:-1]:
        assert bob_client.get(url(name, server)).status_code == 200, name
    assert bob_client.get(url("server_danger", server)).status_code == 403
    page = bob_client.get(url("server_detail", server)).content.decode()
    assert url("server_danger", server) not in page and 'data-testid="console-link"' not in page


def test_other_tenants_get_404_for_every_section(charlie_client, server):
    for name in PAGES:
        assert charlie_client.get(url(name, server)).status_code == 404, name


def test_forms_come_back_to_the_section_they_were_posted_from(alice_client, server):
    assert alice_client.post(url("snapshot_create", server), {"name": "bad name!"})["Location"] == url("server_snapshots", server)
    assert alice_client.post(url("backup_policy", server), {"frequency": "nonsense"})["Location"] == url("server_backups", server)
    assert alice_client.post(url("server_rename", server), {"hostname": "Bad_Name"})["Location"] == url("server_settings", server)
    assert alice_client.post(url("server_delete", server), {})["Location"] == url("server_danger", server)


def test_each_section_uses_a_constant_number_of_queries(alice_client, tenant_a, offline_cluster, server):  # noqa: F811
    def queries():
        counts = {}
        for name in PAGES:
            with CaptureQueriesContext(connection) as ctx:
                assert alice_client.get(url(name, server)).status_code == 200
            counts[name] = len(ctx)
        return counts

    few = queries()
    make_servers(tenant_a, offline_cluster, 40, start=1)
    for i in range(30):
        Snapshot.objects.create(server=server, name=f"snap{i}", ready=True)
        Backup.objects.create(tenant=tenant_a, server=server, cluster=offline_cluster, node="pve", storage="backup", kind="qemu",
                              volid=f"backup:backup/vzdump-qemu-1000-{i}.vma.zst", hostname=server.hostname, created_at=timezone.now())
        Operation.objects.create(tenant=tenant_a, server=server, kind=Operation.Kind.START, state=Operation.State.SUCCEEDED)
    assert queries() == few


def test_the_overview_shows_uptime_and_use_as_reconcile_last_read_them(alice_client, server, settings):
    from provisioning import live

    live.store(server.cluster_id, {server.tenant_id: {server.pk: (0.283, 512, 3 * 86400 + 3600)}}, timezone.now())
    page = alice_client.get(url("server_detail", server)).content.decode()
    assert "3\xa0days, 1\xa0hour" in page and "CPU 28\xa0% · memory 512\xa0MB in use" in page
    alice_client.cookies["django_language"] = "de"
    page = alice_client.get(url("server_detail", server), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "3\xa0Tage, 1\xa0Stunde" in page


def test_a_failed_build_offers_no_snapshots_backups_or_graphs_and_their_urls_lead_to_the_overview(alice_client, server):
    from provisioning.models import Server

    Server.objects.filter(pk=server.pk).update(status=Server.Status.FAILED)
    overview = alice_client.get(url("server_detail", server)).content.decode()
    for name in ("server_graphs_page", "server_snapshots", "server_backups", "server_settings"):
        assert url(name, server) not in overview, name
        response = alice_client.get(url(name, server))
        assert response.status_code == 302 and response["Location"] == url("server_detail", server), name


def test_a_section_reloads_once_when_the_operation_it_watched_is_done(alice_client, server):
    op = Operation.objects.create(tenant=server.tenant, server=server, kind=Operation.Kind.SNAPSHOT, state=Operation.State.RUNNING)
    page = alice_client.get(url("server_snapshots", server)).content.decode()
    poll = reverse("provisioning:server_live", args=[server.public_id]) + "?refresh=1"
    assert f'hx-get="{poll}"' in page
    assert "HX-Trigger" not in alice_client.get(poll), "still running: the block keeps polling"
    Operation.objects.filter(pk=op.pk).update(state=Operation.State.SUCCEEDED)
    # The page reloads itself on this event unless a form there is half filled in (tests/e2e/test_section_reload.py).
    finished = alice_client.get(poll)
    assert finished["HX-Trigger"] == "server-operation-finished" and "HX-Refresh" not in finished
    # The overview brings its operations table along instead of reloading.
    overview = reverse("provisioning:server_live", args=[server.public_id]) + "?full=1"
    assert "HX-Trigger" not in alice_client.get(overview)
