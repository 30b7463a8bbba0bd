"""Graphs per range from Proxmox's own archive for it: a spike in the last hour is the week's peak."""

import json
import re

import pytest
from django.urls import reverse

from provisioning import actions
from tests.conftest import client_for

from .conftest import wait_done, wait_for


@pytest.fixture
def busy_server(tenant_a, ct_image, pve, worker):
    server = actions.server_create(tenant=tenant_a, image=ct_image, hostname="web-01", cores=1, memory_mb=512, disk_gb=8,
                                   password="long-enough")
    wait_done(server.operations.get())
    server.refresh_from_db()
    # Two minutes at 95 % CPU forty minutes ago: inside the hour, and in a finished 30-minute row of the week.
    pve.add_load(vmid=server.vmid, cpu=0.95, seconds=120, ago=2400)
    return server


def graphs(client, url, timeframe):
    wait_for(lambda: "data-series" in client.get(f"{url}?timeframe={timeframe}").content.decode(), message=f"{timeframe} graphs")
    return client.get(f"{url}?timeframe={timeframe}").content.decode()


def peak(page, chart):
    return re.search(rf'data-testid="peak-{chart}">([^<]*)<', page).group(1)


def series(page):
    raw = re.search(r'data-series="([^"]*)"', page).group(1).replace("&quot;", '"')
    return json.loads(raw)


@pytest.mark.parametrize("timeframe", ["hour", "day", "week", "month"])
def test_a_spike_in_the_last_hour_is_the_peak_of_every_range(alice_client, busy_server, timeframe):
    page = graphs(alice_client, reverse("provisioning:server_graphs", args=[busy_server.public_id]), timeframe)
    assert peak(page, "cpu") == "95 %"


def test_the_week_line_is_the_average_and_the_peak_line_keeps_the_spike(alice_client, busy_server, pve):
    page = graphs(alice_client, reverse("provisioning:server_graphs", args=[busy_server.public_id]), "week")
    data = series(page)
    assert max(v for v in data["cpu"] if v is not None) < 95, "two minutes in a 30-minute average"
    assert max(v for v in data["cpumax"] if v is not None) == 95
    assert data["time"][1] - data["time"][0] == 1800, "the week's own rows, not the hour's"
    assert data["cpu"][-1] is None, "the row still being filled is a gap, not a zero"
    counts = pve.request_counts()
    assert counts["GET /nodes/{node}/lxc/{vmid}/rrddata"] == 2


def test_a_staff_node_page_has_the_same_charts_from_the_cache(cluster, pve, worker, dora, alice_client):
    node = cluster.nodes.get(name="pve2")
    pve.add_load(node="pve2", cpu=0.99, seconds=60, ago=2400)
    staff = client_for(dora)
    page = staff.get(reverse("staff:node", args=[node.pk])).content.decode()
    url = reverse("staff:node_graphs", args=[node.pk])
    assert f'hx-get="{url}"' in page and "uPlot" in page
    before = pve.request_counts().get("GET /nodes/{node}/rrddata", 0)
    first = staff.get(url + "?timeframe=week").content.decode()
    assert "Loading the graphs" in first, "the page itself never waits for Proxmox"
    page = graphs(staff, url, "week")
    assert peak(page, "cpu") == "99 %" and 'data-testid="chart-network"' in page and "chart-disk" not in page
    assert page.count("<polyline") == 3
    assert pve.request_counts()["GET /nodes/{node}/rrddata"] == before + 2
    assert alice_client.get(url).status_code in (302, 403, 404), "customers see no node"
