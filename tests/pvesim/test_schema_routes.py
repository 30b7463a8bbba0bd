"""Every route the simulator serves exists in the official schema with the same method."""

import pytest

from pvesim import router
from pvesim.core import Core
from pvesim.validation import load_schema
from tests.pvesim.helpers import SCHEMA

pytestmark = pytest.mark.skipif(SCHEMA is None, reason="apidata.json not found (set PVESIM_SCHEMA)")


@pytest.fixture(scope="module")
def schema():
    Core(scenario="demo", time_scale=0)  # imports the route modules
    return load_schema(SCHEMA)


def test_every_route_is_in_the_schema(schema):
    routes = router.all_routes()
    assert len(routes) > 60
    missing = []
    for template, methods in sorted(routes.items()):
        info = schema.paths.get(template)
        if info is None:
            missing.append(f"{template} (path)")
            continue
        for method in methods:
            if method not in info:
                missing.append(f"{method} {template}")
    assert missing == []


def test_concrete_paths_resolve_to_the_same_template(schema):
    for template, methods in router.all_routes().items():
        concrete = (template.replace("{node}", "pve").replace("{vmid}", "100").replace("{storage}", "local")
                    .replace("{snapname}", "s1").replace("{pos}", "0").replace("{poolid}", "p1")
                    .replace("{sid}", "vm:100").replace("{volume}", "local%3Aiso%2Fx.iso")
                    .replace("{upid}", "UPID:pve:00000001:00000001:00000001:qmstart:100:root@pam:"))
        for method in methods:
            ep = schema.find(method, concrete)
            assert ep is not None and ep.template == template, (method, concrete)


def test_simulated_validation_matches_schema_selftest_cases(schema):
    # the schema's own examples must pass/fail the same way through the simulator's pipeline
    from pvesim.validation import schema_errors
    errs = schema_errors(schema, "POST", "/nodes/{node}/qemu/{vmid}/clone", {"node": "pve", "vmid": "100"},
                         {"newid": "101", "name": "web-01", "full": "1"}, "form")
    assert errs == {}
    errs = schema_errors(schema, "POST", "/nodes/{node}/qemu/{vmid}/clone", {"node": "pve", "vmid": "100"},
                         {"name": "web_01", "full": "True"}, "form")
    assert set(errs) == {"newid", "name", "full"}
