"""Plausible RRD curves: deterministic per guest/node so repeated reads agree.

Each timeframe is its own archive, consolidated from the same underlying samples the way RRD does:
a row holds the AVERAGE (or, with cf=MAX, the highest sample) of its whole step, so a short spike
shows at full height in every timeframe's MAX and flattened in the longer AVERAGEs. The newest row
is still being filled and, as in Proxmox, carries only its time.
"""

import math
import time
import zlib

# timeframe -> (step seconds, points), PVE 9 RRD layout
TIMEFRAMES = {"hour": (60, 60), "day": (60, 1440), "week": (1800, 336), "month": (1800, 1440),
              "year": (21600, 1440), "decade": (604800, 570)}
# How finely a step is sampled before it is consolidated (the curves are smooth below this; at most
# a dozen samples a row keep the year and decade cheap).
SAMPLE = 300
# Sizes, not measurements: the same in every row.
MAXIMA = ("maxcpu", "maxmem", "maxdisk", "memtotal", "swaptotal", "roottotal")


def _wave(seed, t, period, lo, hi):
    phase = (seed % 1000) / 1000 * 2 * math.pi
    x = 0.5 + 0.35 * math.sin(2 * math.pi * t / period + phase) + 0.15 * math.sin(2 * math.pi * t / (period / 7.3) + phase * 3)
    return lo + (hi - lo) * min(1.0, max(0.0, x))


def _guest_sample(seed, t, maxima):
    mem = _wave(seed, t, 86400, 0.25, 0.7) * maxima["maxmem"]
    return {"maxcpu": maxima["maxcpu"], "cpu": _wave(seed, t, 3600 * 5, 0.01, 0.6),
            "maxmem": maxima["maxmem"], "mem": mem, "memhost": mem * 1.05,
            "maxdisk": maxima["maxdisk"], "disk": 0,
            "netin": _wave(seed + 1, t, 7200, 200, 90000),
            "netout": _wave(seed + 2, t, 7200, 100, 40000),
            "diskread": _wave(seed + 3, t, 10800, 0, 500000),
            "diskwrite": _wave(seed + 4, t, 10800, 1000, 300000),
            "pressurecpusome": _wave(seed + 5, t, 3600, 0, 0.05),
            "pressurecpufull": 0, "pressureiosome": _wave(seed + 6, t, 3600, 0, 0.02),
            "pressureiofull": 0, "pressurememorysome": 0, "pressurememoryfull": 0}


def _idle_guest(seed, t, maxima):
    """A guest that is not running: its sizes, nothing used."""
    return {k: (v if k in MAXIMA else 0) for k, v in _guest_sample(seed, t, maxima).items()}


def _node_sample(seed, t, maxima):
    memused = _wave(seed, t, 86400, 0.1, 0.6) * maxima["maxmem"]
    return {"loadavg": _wave(seed, t, 3600 * 3, 0.1, 6.0),
            "maxcpu": maxima["maxcpu"], "cpu": _wave(seed, t, 3600 * 3, 0.01, 0.5),
            "iowait": _wave(seed + 9, t, 3600, 0, 0.03),
            "memtotal": maxima["maxmem"], "memused": memused,
            "memavailable": maxima["maxmem"] - memused, "arcsize": 0,
            "swaptotal": 8 * 1024 ** 3, "swapused": 0,
            "roottotal": maxima["maxdisk"], "rootused": maxima["maxdisk"] * 0.12,
            "netin": _wave(seed + 1, t, 7200, 5000, 900000),
            "netout": _wave(seed + 2, t, 7200, 3000, 600000),
            "pressurecpusome": 0, "pressureiosome": 0, "pressurememorysome": 0}


def _consolidate(samples, cf):
    out = {}
    for key in samples[0]:
        values = [s[key] for s in samples]
        out[key] = max(values) if cf == "MAX" or key in MAXIMA else sum(values) / len(values)
    return out


def _apply_load(row, t, step, load, cf, running_since):
    """Load events are exact intervals: a one-minute spike counts for its minute, however long the step."""
    for event in load:
        start = max(event["start"], t, running_since or 0)
        overlap = min(event["end"], t + step) - start
        if overlap <= 0:
            continue
        for key, value in event["values"].items():
            if key not in row:
                continue
            if cf == "MAX":
                row[key] = max(row[key], value)
            else:
                share = overlap / step
                row[key] = row[key] * (1 - share) + max(row[key], value) * share


def _rounded(row):
    for key, value in row.items():
        if isinstance(value, float):
            row[key] = int(value) if key in ("mem", "memhost", "memused", "memavailable", "rootused") else round(value, 5)
    return row


def series(kind, key, timeframe, maxima, running_since=None, cf="AVERAGE", load=(), now=None):
    step, points = TIMEFRAMES[timeframe]
    seed = zlib.crc32(str(key).encode())
    now = time.time() if now is None else now
    end = int(now) // step * step
    sample = min(step, max(SAMPLE, step // 12))
    out = []
    for i in range(points):
        t = end - (points - 1 - i) * step
        if t + step > now:
            out.append({"time": t})  # still being filled: Proxmox has no value for it yet
            continue
        samples = []
        for x in range(t, t + step, sample):
            if kind != "guest":
                samples.append(_node_sample(seed, x, maxima))
            elif running_since is not None and x < running_since:
                samples.append(_idle_guest(seed, x, maxima))
            else:
                samples.append(_guest_sample(seed, x, maxima))
        row = _consolidate(samples, cf)
        _apply_load(row, t, step, load, cf, running_since if kind == "guest" else None)
        out.append({"time": t, **_rounded(row)})
    return out
