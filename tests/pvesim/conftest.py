"""Fixtures for the pvesim tests: one simulator per session, reset before each test."""

import pytest

from pvesim import Simulator
from tests.pvesim.helpers import SCHEMA, Raw, make_prox


@pytest.fixture(scope="session")
def _server():
    sim = Simulator(scenario="demo", time_scale=0.0, schema_path=SCHEMA or "").start()
    yield sim
    sim.stop()


@pytest.fixture
def sim(_server):
    _server.come_up()  # a test that took the listener down must not break the next one
    _server.set_time_scale(0.0)
    _server.reset()
    yield _server
    _server.set_time_scale(0.0)


@pytest.fixture
def prox(sim):
    return make_prox(sim)


@pytest.fixture
def raw(sim):
    return Raw(sim)


