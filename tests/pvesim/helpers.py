"""Helpers shared by the pvesim tests."""

import os
import time

import requests
from proxmoxer import ProxmoxAPI
from proxmoxer.tools import Tasks

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA = os.environ.get("PVESIM_SCHEMA") or os.path.join(ROOT, "..", "shared", "pve-api", "apidata.json")
SCHEMA = SCHEMA if os.path.exists(SCHEMA) else None


def make_prox(sim, **kw):
    return ProxmoxAPI("127.0.0.1", port=sim.port, user="root@pam", token_name="portal",
                      token_value=sim.token_secret, verify_ssl=sim.ca_cert_path, timeout=10, **kw)


class Raw:
    """Raw HTTPS access for status lines, reason phrases and bodies."""

    def __init__(self, sim):
        self.sim = sim
        self.session = requests.Session()
        self.session.verify = sim.ca_cert_path
        self.auth = {"Authorization": f"PVEAPIToken={sim.token_id}={sim.token_secret}"}

    def __call__(self, method, path, auth=True, headers=None, **kw):
        hdrs = dict(self.auth) if auth else {}
        hdrs.update(headers or {})
        url = path if path.startswith("http") else f"{self.sim.url}{path if path.startswith('/_sim') else '/api2/json' + path}"
        kw.setdefault("verify", self.sim.ca_cert_path)
        return self.session.request(method, url, headers=hdrs, timeout=10, **kw)


def wait(prox, upid, timeout=20):
    status = Tasks.blocking_status(prox, upid, timeout=timeout, polling_interval=0.02)
    assert status is not None, f"task {upid} did not finish"
    return status


def wait_ok(prox, upid, timeout=20):
    status = wait(prox, upid, timeout)
    assert status["exitstatus"] == "OK", status
    return status


def clone_vm(prox, newid, node="pve", target=None, name=None, template=9000, **kw):
    params = {"newid": newid, "full": 1, "name": name or f"vm-{newid}", "storage": "local-lvm"}
    if target:
        params["target"] = target
    params.update(kw)
    upid = prox.nodes("pve").qemu(template).clone.post(**params)
    wait_ok(prox, upid)
    return target or node


def until(predicate, timeout=10, interval=0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not reached")
