"""`make bench`: figures for the provisioning engine against pvesim, real PostgreSQL, Redis, Celery.

Prints a table and writes bench/results.json. Benchmarks measure; they assert nothing.
"""

import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

import django  # noqa: E402

django.setup()

from celery.contrib.testing.worker import start_worker  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from proxmoxer import ProxmoxAPI  # noqa: E402

from portal.celery import app as celery_app  # noqa: E402
from provisioning import actions  # noqa: E402
from provisioning.models import Cluster, Image, IPPool, Operation, Server  # noqa: E402
from provisioning.reconcile import reconcile_cluster  # noqa: E402
from pvesim import Simulator  # noqa: E402
from tenants.models import Tenant  # noqa: E402

POLL = "GET /nodes/{node}/tasks/{upid}/status"
CT_TEMPLATE = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"


def reset_db():
    Operation.objects.all().delete()
    Server.objects.all().delete()
    Image.objects.all().delete()
    IPPool.objects.all().delete()
    Cluster.objects.all().delete()
    Tenant.objects.all().delete()


def setup_cluster(sim, name="Bench"):
    cluster = Cluster(name=name, api_url=f"127.0.0.1:{sim.port}", token_id=sim.token_id, ca_cert=Path(sim.ca_cert_path).read_text())
    cluster.token_secret = sim.token_secret
    cluster.vmid_max = 999999
    cluster.save()
    reconcile_cluster(cluster)
    IPPool.objects.create(cluster=cluster, name="p", network="10.99.0.0/16", gateway="10.99.0.1", range_start="10.99.0.10", range_end="10.99.250.250")
    vm = Image.objects.create(cluster=cluster, name="Debian 12", kind="qemu", template_vmid=9000, template_node="pve", default_user="debian", cloud_init=True)
    ct = Image.objects.create(cluster=cluster, name="Debian 12 CT", kind="lxc", volid=CT_TEMPLATE, min_disk_gb=2)
    return cluster, vm, ct


def wait(op, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        op.refresh_from_db()
        if op.state in ("succeeded", "failed"):
            return op
        time.sleep(0.02)
    raise RuntimeError("operation did not finish")


def create(tenant, image, hostname):
    server = actions.server_create(tenant=tenant, image=image, hostname=hostname, cores=1, memory_mb=1024, disk_gb=10, password="bench-password")
    op = wait(server.operations.get())
    assert op.state == "succeeded", op.error
    return server


def bench_pve_calls(sim):
    results = {}
    for kind in ("qemu", "lxc"):
        sim.reset()
        reset_db()
        _cluster, vm, ct = setup_cluster(sim)
        tenant = Tenant.objects.create(name="B", slug="b", max_servers=100, max_cores=100, max_memory_mb=10**6, max_disk_gb=10**5)
        before = sim.request_counts()
        create(tenant, vm if kind == "qemu" else ct, f"calls-{kind}")
        after = sim.request_counts()
        delta = {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}
        polls = delta.pop(POLL, 0)
        results[f"create_{kind}"] = {"calls": sum(delta.values()), "status_polls": polls, "by_endpoint": delta}
        server = Server.objects.get(hostname=f"calls-{kind}")
        for label, start in (("snapshot", lambda s=server: actions.snapshot_create(server=s, name="bench")),
                             ("backup", lambda s=server: actions.backup_create(server=s))):
            before = sim.request_counts()
            op = wait(start())
            assert op.state == "succeeded", op.error
            after = sim.request_counts()
            delta = {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}
            polls = delta.pop(POLL, 0)
            results[f"{label}_{kind}"] = {"calls": sum(delta.values()), "status_polls": polls, "by_endpoint": delta}
    return results


CT_CREATE_SECONDS = 4.0 + 2.0  # simulator at time scale 1: container create 4 s, start 2 s


def _order_burst(clusters, creates, tenants):
    """`creates` container orders per cluster from `tenants` tenants at once; seconds until all ended."""
    owners = [Tenant.objects.create(name=f"T{i}", slug=f"t{i}", max_servers=creates * len(clusters)) for i in range(tenants)]
    start = time.monotonic()
    for n, (_cluster, ct) in enumerate(clusters):
        for i in range(creates):
            actions.server_create(tenant=owners[i % tenants], image=ct, hostname=f"b{n}-{i}", cores=1, memory_mb=512,
                                  disk_gb=8, password="bench-password")
    while Operation.objects.filter(state__in=Operation.ACTIVE_STATES).exists():
        time.sleep(0.1)
    elapsed = time.monotonic() - start
    vmids = list(Server.objects.values_list("cluster_id", "vmid"))
    ips = list(Server.objects.values_list("cluster_id", "ipv4"))
    over = sum(1 for t in owners if Server.objects.live().filter(tenant=t).count() > t.max_servers)
    slots = clusters[0][0].nodes.count() * settings.PROVISIONING_MAX_TASKS_PER_NODE
    ideal = -(-creates // slots) * CT_CREATE_SECONDS  # the clusters work side by side
    return {
        "creates": creates * len(clusters), "clusters": len(clusters), "tenants": tenants, "seconds": round(elapsed, 1),
        "ideal_seconds": ideal, "ratio": round(elapsed / ideal, 2),
        "succeeded": Operation.objects.filter(state="succeeded").count(),
        "duplicate_vmids": len(vmids) - len(set(vmids)), "duplicate_ips": len(ips) - len(set(ips)), "quota_overshoot": over,
    }


def bench_burst(sim, threads):
    """50 orders from 10 tenants at once against one cluster; compared with the ideal given per-node task slots."""
    sim.reset()
    sim.set_time_scale(1.0)
    reset_db()
    cluster, _vm, ct = setup_cluster(sim)
    figures = _order_burst([(cluster, ct)], creates=50, tenants=10)
    sim.set_time_scale(0.0)
    return {"worker_threads": threads, **figures}


def bench_burst_two_clusters(processes=2, threads=16):
    """The same burst on each of two simulated clusters at once, served by two worker processes."""
    import subprocess

    reset_db()
    with Simulator(scenario="demo", time_scale=1.0) as one, Simulator(scenario="demo", time_scale=1.0) as two:
        clusters = []
        for name, sim in (("A", one), ("B", two)):
            cluster, _vm, ct = setup_cluster(sim, name=f"Bench {name}")
            clusters.append((cluster, ct))
        workers = [
            subprocess.Popen([sys.executable, "-m", "celery", "-A", "portal", "worker", "-P", "threads", "-c", str(threads),
                              "-l", "WARNING", "-n", f"bench{i}@%h"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for i in range(processes)
        ]
        try:
            time.sleep(5)  # let both workers connect before the burst
            figures = _order_burst(clusters, creates=50, tenants=10)
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(timeout=30)
    return {"worker_processes": processes, "threads_each": threads, **figures}


def bench_pages(servers=200, repeats=20):
    """Server time and SQL queries of the busiest pages with 200 servers, against /healthz in the same run."""
    from django.db import connection
    from django.test import Client

    from tenants.models import Membership
    from tests.conftest import make_user

    reset_db()
    cluster = Cluster.objects.create(name="Pages", api_url="127.0.0.1:1", token_id="a@pve!t")
    tenant = Tenant.objects.create(name="Pages", slug="pages", max_servers=servers)
    user = make_user(f"pages-{time.time()}@example.com")
    Membership.objects.create(tenant=tenant, user=user, role="owner")
    Server.objects.bulk_create(
        Server(tenant=tenant, cluster=cluster, kind="lxc", hostname=f"p{i}", vmid=1000 + i, cores=1, memory_mb=512, disk_gb=8,
               status="running")
        for i in range(servers)
    )
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    one = Server.objects.first()

    def measure(url):
        # Counted with a wrapper, not connection.queries: that log is capped and may be full by now.
        times, counted = [], []

        def count(execute, sql, params, many, context):
            counted.append(sql)
            return execute(sql, params, many, context)

        for _ in range(repeats):
            counted.clear()
            with connection.execute_wrapper(count):
                t0 = time.perf_counter()
                response = client.get(url)
                times.append(time.perf_counter() - t0)
            assert response.status_code == 200, url
        return sorted(times)[len(times) // 2], len(counted)

    base, _ = measure("/healthz")
    out = {}
    sections = [(f"server_{s}", f"/servers/{one.public_id}/{s}/") for s in ("graphs", "snapshots", "backups", "settings", "danger")]
    for name, url in (("dashboard", "/"), ("server_list", "/servers/"), ("server_page", f"/servers/{one.public_id}/"), *sections):
        median, queries = measure(url)
        out[name] = {"servers": servers, "queries": queries, "median_ms": round(median * 1000, 1), "vs_healthz": round(median / base, 1)}
    out["healthz"] = {"median_ms": round(base * 1000, 2)}
    return out


def direct_build(sim, kind):
    """The same Proxmox steps driven straight through proxmoxer with a tight poll: the ideal."""
    api = ProxmoxAPI("127.0.0.1", port=sim.port, user="root@pam", token_name="portal", token_value=sim.token_secret, verify_ssl=sim.ca_cert_path)

    def done(upid):
        node = upid.split(":")[1]
        while api.nodes(node).tasks(upid).status.get()["status"] == "running":
            time.sleep(0.02)

    start = time.monotonic()
    if kind == "qemu":
        done(api.nodes("pve").qemu(9000).clone.post(newid=500, name="direct", target="pve2", storage="local-lvm", full=1))
        api.nodes("pve2").qemu(500).config.put(cores=1, memory=1024, ciuser="debian", ipconfig0="ip=10.99.0.9/16,gw=10.99.0.1")
        done(api.nodes("pve2").qemu(500).resize.put(disk="scsi0", size="10G"))
        done(api.nodes("pve2").qemu(500).status.start.post())
    else:
        done(api.nodes("pve2").lxc.post(vmid=501, ostemplate=CT_TEMPLATE, hostname="direct", cores=1, memory=1024, rootfs="local-lvm:10", net0="name=eth0,bridge=vmbr0,ip=10.99.0.8/16,gw=10.99.0.1", unprivileged=1))
        done(api.nodes("pve2").lxc(501).status.start.post())
    return time.monotonic() - start


def bench_create_overhead(sim, repeats=3):
    sim.set_time_scale(1.0)
    results = {}
    for kind in ("qemu", "lxc"):
        portal, ideal = [], []
        for i in range(repeats):
            sim.reset()
            sim.set_time_scale(1.0)
            ideal.append(direct_build(sim, kind))
            sim.reset()
            sim.set_time_scale(1.0)
            reset_db()
            _cluster, vm, ct = setup_cluster(sim)
            tenant = Tenant.objects.create(name="B", slug="b", max_servers=100, max_cores=100, max_memory_mb=10**6, max_disk_gb=10**5)
            start = time.monotonic()
            create(tenant, vm if kind == "qemu" else ct, f"over-{kind}-{i}")
            portal.append(time.monotonic() - start)
        p, d = sorted(portal)[len(portal) // 2], sorted(ideal)[len(ideal) // 2]
        results[f"create_{kind}"] = {"portal_s": round(p, 3), "simulator_s": round(d, 3), "ratio": round(p / d, 3)}
    sim.set_time_scale(0.0)
    return results


def bench_reconcile(sizes=((50, 1000), (50, 10000), (100, 100000))):
    """One reconcile of a cluster whose servers all changed (first) and one where nothing did (steady)."""
    results = {}
    for nodes, guests in sizes:
        with Simulator(scenario=f"bulk:{nodes}:{guests}", time_scale=0) as sim:
            reset_db()
            cluster = Cluster(name="Bulk", api_url=f"127.0.0.1:{sim.port}", token_id=sim.token_id, ca_cert=Path(sim.ca_cert_path).read_text(), vmid_max=999999)
            cluster.token_secret = sim.token_secret
            cluster.save()
            reconcile_cluster(cluster)
            tenants = Tenant.objects.bulk_create([Tenant(name=f"Bulk {i}", slug=f"bulk-{i}") for i in range(max(1, guests // 100))])
            node_ids = {n.name: n.pk for n in cluster.nodes.all()}
            Server.objects.bulk_create(
                [
                    # Every row differs from Proxmox at first (status), as after a node failure's recovery.
                    Server(tenant=tenants[g["vmid"] % len(tenants)], cluster=cluster, node_id=node_ids[g["node"]], kind=g["type"],
                           hostname=f"g{g['vmid']}", vmid=g["vmid"], cores=1, memory_mb=512, disk_gb=8, status="unavailable",
                           should_run=g["status"] == "running")
                    for g in sim.state()["guests"]
                ],
                batch_size=5000,
            )
            figures = {"nodes": nodes}
            for label in ("first", "steady"):
                before = sum(sim.request_counts().values())
                start = time.monotonic()
                stats = reconcile_cluster(cluster)
                elapsed = time.monotonic() - start
                figures[f"{label}_seconds"] = round(elapsed, 3)
                figures[f"{label}_ms_per_guest"] = round(1000 * elapsed / max(stats["guests"], 1), 4)
                figures["proxmox_calls"] = sum(sim.request_counts().values()) - before
            figures["guests"] = stats["guests"]
            results[f"{guests}_guests"] = figures
    for label in ("first", "steady"):
        results[f"{label}_ratio_10k_to_1k"] = round(results["10000_guests"][f"{label}_seconds"] / results["1000_guests"][f"{label}_seconds"], 2)
        results[f"{label}_ratio_100k_to_10k"] = round(results["100000_guests"][f"{label}_seconds"] / results["10000_guests"][f"{label}_seconds"], 2)
    return results


def main():
    call_command("migrate", verbosity=0)
    machine = {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(), "database": django.db.connection.vendor}
    out = []
    with start_worker(celery_app, pool="threads", concurrency=4, perform_ping_check=False, shutdown_timeout=30):
        with Simulator(scenario="demo", time_scale=0.0, schema_path=os.environ.get("PVESIM_SCHEMA")) as sim:
            out.append({"name": "pve_calls", "parameters": {"time_scale": 0}, "figures": bench_pve_calls(sim)})
            out.append({"name": "create_overhead", "parameters": {"time_scale": 1.0, "repeats": 3, "statistic": "median"}, "figures": bench_create_overhead(sim)})
    bursts = {}
    for threads in (8, 16):
        with start_worker(celery_app, pool="threads", concurrency=threads, perform_ping_check=False, shutdown_timeout=30):
            with Simulator(scenario="demo", time_scale=1.0) as sim:
                bursts[f"{threads}_threads"] = bench_burst(sim, threads)
    bursts["two_clusters"] = bench_burst_two_clusters()
    out.append({"name": "burst", "parameters": {"time_scale": 1.0, "worker": "threads pool"}, "figures": bursts})
    out.append({"name": "pages", "parameters": {"repeats": 20, "statistic": "median"}, "figures": bench_pages()})
    out.append({"name": "reconcile", "parameters": {"nodes": "50 (100 for 100,000 guests)"}, "figures": bench_reconcile()})
    from bench_billing import bench_billing  # bench/bench_billing.py

    out.append({"name": "billing_run", "parameters": {"servers_per_tenant": 20, "month": "2026-04"}, "figures": bench_billing()})
    from bench_notifications import bench_notifications  # bench/bench_notifications.py

    out.append({"name": "notifications", "parameters": {"worker": "threads pool, 16, in the bench's process"},
                "figures": bench_notifications()})
    from bench_console import IDLE_TERMINALS, bench_console  # bench/bench_console.py

    out.append({"name": "console", "parameters": {"idle_terminals": IDLE_TERMINALS, "asgi_workers": 1}, "figures": bench_console()})
    for entry in out:
        entry["machine"] = machine
    (ROOT / "bench" / "results.json").write_text(json.dumps(out, indent=2) + "\n")
    print_table(out)


def print_table(out):
    print(f"\n{'benchmark':<18} {'case':<16} figures")
    print("-" * 90)
    for entry in out:
        for case, figures in entry["figures"].items():
            shown = {k: v for k, v in figures.items() if k != "by_endpoint"} if isinstance(figures, dict) else figures
            print(f"{entry['name']:<18} {case:<16} {shown}")
    print("\nwritten to bench/results.json")


if __name__ == "__main__":
    main()
