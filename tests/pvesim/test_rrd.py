"""rrddata per timeframe and consolidation function: a short spike is the MAX of every timeframe."""

import pytest
from proxmoxer.core import ResourceException

from tests.pvesim.helpers import clone_vm, wait_ok


@pytest.fixture
def busy_vm(prox, sim):
    clone_vm(prox, 100)
    wait_ok(prox, prox.nodes("pve").qemu(100).status.start.post())
    # Two minutes at 95 % CPU, forty minutes ago: long enough ago for the 30-minute rows to be complete.
    sim.add_load(vmid=100, cpu=0.95, seconds=120, ago=2400)
    return prox.nodes("pve").qemu(100)


def peak(rows):
    return max(r.get("cpu", 0) for r in rows)


@pytest.mark.parametrize("timeframe", ["hour", "day", "week", "month"])
def test_a_short_spike_is_the_max_of_every_timeframe(busy_vm, timeframe):
    assert peak(busy_vm.rrddata.get(timeframe=timeframe, cf="MAX")) == 0.95


def test_the_average_flattens_a_spike_in_the_long_timeframes_only(busy_vm):
    assert peak(busy_vm.rrddata.get(timeframe="hour", cf="AVERAGE")) == 0.95
    week = busy_vm.rrddata.get(timeframe="week", cf="AVERAGE")
    # Two busy minutes in a 30-minute row, averaged with the guest's ordinary load (a wave of at most
    # 0.6 in pvesim/metrics.py, so the bound is not "below 0.5": that failed at some times of day).
    assert 0 < peak(week) <= 0.7, "two busy minutes in a 30-minute row"
    assert busy_vm.rrddata.get(timeframe="week") == week, "AVERAGE is the default"


def test_each_timeframe_has_its_own_step_and_the_newest_row_only_a_time(busy_vm):
    for timeframe, step in (("hour", 60), ("week", 1800)):
        rows = busy_vm.rrddata.get(timeframe=timeframe, cf="MAX")
        assert {b["time"] - a["time"] for a, b in zip(rows, rows[1:], strict=False)} == {step}
        assert set(rows[-1]) == {"time"} and "cpu" in rows[-2]


def test_a_node_spike_shows_in_its_max_too(prox, sim):
    sim.add_load(node="pve", cpu=0.99, seconds=60, ago=3000)
    assert peak(prox.nodes("pve").rrddata.get(timeframe="week", cf="MAX")) == 0.99
    assert peak(prox.nodes("pve").rrddata.get(timeframe="week", cf="AVERAGE")) < 0.99


def test_an_unknown_consolidation_function_is_refused(busy_vm):
    with pytest.raises(ResourceException) as info:
        busy_vm.rrddata.get(timeframe="hour", cf="MIN")
    assert info.value.status_code == 400
