"""Resource graphs of servers and nodes from Proxmox rrddata, kept in the cache.

Pages never call Proxmox: the graphs block reads the cache and, when the data is missing or
older than a minute, asks a worker to fetch it; HTMX polls until it is there.

Each range is Proxmox's own archive for that timeframe: the lines are its AVERAGE rows, the peaks
its MAX rows (an average of 30-minute rows hides a two-minute spike; their maximum does not).
"""

import time

from celery import current_app
from django.core.cache import cache
from django.db import transaction

from .charts import sparkline
from .proxmox import PVE

TIMEFRAMES = ("hour", "day", "week", "month")
FRESH_SECONDS = 60
SERIES = [
    # name, how to read a 0..1 value (or bytes/s) from one rrd row
    ("cpu", lambda row: row.get("cpu") or 0),
    ("memory", lambda row: (row.get("mem") or 0) / row["maxmem"] if row.get("maxmem") else 0),
    ("network", lambda row: (row.get("netin") or 0) + (row.get("netout") or 0)),
    ("disk", lambda row: (row.get("diskread") or 0) + (row.get("diskwrite") or 0)),
]

REFRESH_TASK = "provisioning.tasks.refresh_server_metrics"
NODE_REFRESH_TASK = "provisioning.tasks.refresh_node_graphs"


def _is_node(target):
    return target._meta.model_name == "node"


def _key(target, timeframe):
    return f"{'node' if _is_node(target) else 'server'}-metrics:{target.pk}:{timeframe}"


def cached(target, timeframe):
    return cache.get(_key(target, timeframe))


def is_fresh(data):
    return data is not None and time.time() - data["fetched"] < FRESH_SECONDS


def request_refresh(target, timeframe):
    """Ask a worker for fresh data once, however many browsers are watching."""
    if cache.add(_key(target, timeframe) + ":pending", 1, 30):
        # By name: tasks.py imports this module.
        task = NODE_REFRESH_TASK if _is_node(target) else REFRESH_TASK
        transaction.on_commit(lambda: current_app.send_task(task, args=(target.pk, timeframe)))


def refresh(server, timeframe):
    pve = PVE(server.cluster)
    rows = pve.rrddata(server.node.name, server.kind, server.vmid, timeframe, cf="AVERAGE")
    peak_rows = pve.rrddata(server.node.name, server.kind, server.vmid, timeframe, cf="MAX")
    return _store(server, timeframe, rows, peak_rows)


def _as_guest_row(row):
    # A node reports its memory as memused/memtotal; the charts read the guests' mem/maxmem.
    if "memtotal" in row:
        row = {**row, "mem": row.get("memused"), "maxmem": row["memtotal"]}
    return row


def refresh_node(node, timeframe):
    pve = PVE(node.cluster)
    rows = [_as_guest_row(r) for r in pve.node_rrddata(node.name, timeframe=timeframe, cf="AVERAGE")]
    peak_rows = [_as_guest_row(r) for r in pve.node_rrddata(node.name, timeframe=timeframe, cf="MAX")]
    return _store(node, timeframe, rows, peak_rows)


def _store(target, timeframe, rows, peak_rows):
    rows = [r for r in rows if "time" in r]
    # The newest row is still being filled and has no values yet: no line drops to zero at the end.
    measured = [r for r in rows if "cpu" in r]
    peaks = {name: max((read(r) for r in peak_rows if "cpu" in r), default=0) for name, read in SERIES}
    lines = {}
    for name, read in SERIES:
        # CPU and memory are fractions already; traffic is scaled to its own peak.
        scale = 1 if name in ("cpu", "memory") else (peaks[name] or 1)
        points = [[r["time"], min(read(r) / scale, 1)] for r in measured]
        lines[name] = sparkline(points, 1, width=300, height=60)
    series = chart_series(rows)
    by_time = {r["time"]: r for r in peak_rows}
    series["cpumax"] = [_number(by_time.get(t, {}), "cpu", 100) for t in series["time"]]
    data = {"fetched": time.time(), "lines": lines, "peaks": peaks, "points": len(rows), "series": series}
    cache.set(_key(target, timeframe), data, 3600)
    cache.delete(_key(target, timeframe) + ":pending")
    return data


def _number(row, key, scale=1):
    # Proxmox leaves a key out of a row it has no value for yet (the newest bucket): a gap, not a zero.
    value = row.get(key)
    return None if value is None else round(value * scale, 4)


def chart_series(rows):
    """Columns for the charts (static/js/graphs.js): times, CPU and memory in %, traffic in bytes/s."""
    return {
        "time": [r["time"] for r in rows],
        "cpu": [_number(r, "cpu", 100) for r in rows],
        "memory": [round(100 * r["mem"] / r["maxmem"], 2) if r.get("maxmem") and r.get("mem") is not None else None for r in rows],
        "netin": [_number(r, "netin") for r in rows],
        "netout": [_number(r, "netout") for r in rows],
        "diskread": [_number(r, "diskread") for r in rows],
        "diskwrite": [_number(r, "diskwrite") for r in rows],
    }
