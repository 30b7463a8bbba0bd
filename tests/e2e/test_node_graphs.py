"""Staff node pages draw the same charts as a server: hover one and read the value, in German and English."""

import re

import pytest
from playwright.sync_api import expect

from tenants.staff_roles import ADMIN
from tests.conftest import make_staff
from tests.provisioning.conftest import cluster, pve, sim, worker  # noqa: F401 - fixtures

from .conftest import screenshot
from .test_admin import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("worker")]


@pytest.mark.parametrize("lang", ["en", "de"])
def test_a_node_chart_shows_the_value_under_the_cursor_and_the_spike_as_peak(browser, live_server, settings, cluster, pve, lang):  # noqa: F811
    settings.LANGUAGE_CODE = lang
    make_staff("dora@jiku.example", ADMIN)
    node = cluster.nodes.get(name="pve")
    pve.add_load(node="pve", cpu=0.97, seconds=120, ago=2400)
    context = browser.new_context(base_url=live_server.url, locale=f"{lang}-DE", viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    sign_in(page, "dora@jiku.example")
    page.goto(f"/staff/nodes/{node.pk}/")
    chart = page.get_by_test_id("chart-cpu")
    expect(chart.locator("canvas")).to_be_visible(timeout=20_000)
    chart.scroll_into_view_if_needed()
    box = chart.locator(".u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] / 2, steps=5)
    values = chart.locator(".u-legend .u-value")
    expect(values.nth(1)).to_have_text(re.compile(r"^\d+([.,]\d)? %$"))
    expect(values.nth(0)).to_have_text(re.compile(r"\d{2}:\d{2}"))
    week = page.get_by_role("button", name="Week" if lang == "en" else "Woche")
    week.click()
    expect(week).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("peak-cpu")).to_have_text("97 %", timeout=20_000)
    expect(page.get_by_test_id("chart-network").locator("canvas")).to_be_visible()
    screenshot(page, f"{lang}-staff-node-graphs")
    context.close()
