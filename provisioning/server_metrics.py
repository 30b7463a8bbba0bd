"""A server's resource graphs from Proxmox rrddata, kept in the cache.

Pages never call Proxmox: the graphs block reads the cache and, when the data is missing or
older than a minute, asks a worker to fetch it; HTMX polls until it is there.
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
    # name, how to read a 0..1 value from one rrd row, how to show the peak
    ("cpu", lambda row: row.get("cpu", 0)),
    ("memory", lambda row: row.get("mem", 0) / row["maxmem"] if row.get("maxmem") else 0),
    ("network", lambda row: row.get("netin", 0) + row.get("netout", 0)),
    ("disk", lambda row: row.get("diskread", 0) + row.get("diskwrite", 0)),
]


def _key(server_id, timeframe):
    return f"server-metrics:{server_id}:{timeframe}"


REFRESH_TASK = "provisioning.tasks.refresh_server_metrics"


def cached(server, timeframe):
    return cache.get(_key(server.pk, timeframe))


def is_fresh(data):
    return data is not None and time.time() - data["fetched"] < FRESH_SECONDS


def request_refresh(server, timeframe):
    """Ask a worker for fresh data once, however many browsers are watching."""
    if cache.add(_key(server.pk, timeframe) + ":pending", 1, 30):
        # By name: tasks.py imports this module.
        transaction.on_commit(lambda: current_app.send_task(REFRESH_TASK, args=(server.pk, timeframe)))


def refresh(server, timeframe):
    rows = PVE(server.cluster).rrddata(server.node.name, server.kind, server.vmid, timeframe)
    rows = [r for r in rows if "time" in r]
    raw = {name: [read(r) for r in rows] for name, read in SERIES}
    peaks = {name: max(values, default=0) for name, values in raw.items()}
    lines = {}
    for name, values in raw.items():
        # CPU and memory are fractions already; traffic is scaled to its own peak.
        scale = 1 if name in ("cpu", "memory") else (peaks[name] or 1)
        points = [[r["time"], v / scale] for r, v in zip(rows, values, strict=True)]
        lines[name] = sparkline(points, 1, width=300, height=60)
    data = {"fetched": time.time(), "lines": lines, "peaks": peaks, "points": len(rows), "series": chart_series(rows)}
    cache.set(_key(server.pk, timeframe), data, 3600)
    cache.delete(_key(server.pk, timeframe) + ":pending")
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
