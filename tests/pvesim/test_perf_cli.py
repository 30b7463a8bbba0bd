"""The bulk scenario the benchmarks use, and the command line entry point.

How fast the listing is belongs to `make bench` (bench/run.py reconcile), not to a timer here.
"""

import os
import socket
import subprocess
import sys

import requests

from pvesim import Simulator
from tests.pvesim.helpers import ROOT, make_prox


def test_the_bulk_scenario_lists_10000_running_guests_in_one_call():
    with Simulator(scenario="bulk:50:10000", time_scale=0) as sim:
        prox = make_prox(sim)
        prox.cluster.resources.get(type="node")
        res = prox.cluster.resources.get()
        guests = [r for r in res if r["type"] in ("qemu", "lxc")]
        assert len(guests) == 10000 and guests[0]["vmid"] == 1000
        assert all(g["status"] == "running" for g in guests)
        assert len([r for r in res if r["type"] == "node"]) == 50
        assert prox.cluster.nextid.get() == "100"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_runs_and_serves(tmp_path):
    port = _free_port()
    log = tmp_path / "req.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pvesim", "--port", str(port), "--token", "root@pam!portal=SECRET",
         "--user", "root@pam:PASSWORD", "--scenario", "demo", "--time-scale", "0", "--log-requests", str(log)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONPATH": ROOT})
    try:
        line = proc.stdout.readline()
        assert f"https://127.0.0.1:{port}/api2/json" in line, line
        ca = next(x for x in iter(proc.stdout.readline, "") if "CA cert:" in x).split("CA cert:")[1].strip()
        r = requests.get(f"https://127.0.0.1:{port}/api2/json/nodes", verify=ca, timeout=5,
                         headers={"Authorization": "PVEAPIToken=root@pam!portal=SECRET"})
        assert r.status_code == 200 and len(r.json()["data"]) == 3
        r = requests.post(f"https://localhost:{port}/api2/json/access/ticket", verify=ca, timeout=5,
                          data={"username": "root@pam", "password": "PASSWORD"})
        assert r.json()["data"]["ticket"].startswith("PVE:root@pam:")
        assert log.read_text().count("\n") == 2
    finally:
        proc.terminate()
        proc.wait(timeout=10)
