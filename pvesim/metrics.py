"""Plausible RRD curves: deterministic per guest/node so repeated reads agree."""

import math
import time
import zlib

# timeframe -> (step seconds, points), PVE 9 RRD layout
TIMEFRAMES = {"hour": (60, 60), "day": (60, 1440), "week": (1800, 336), "month": (1800, 1440),
              "year": (21600, 1440), "decade": (604800, 570)}


def _wave(seed, t, period, lo, hi):
    phase = (seed % 1000) / 1000 * 2 * math.pi
    x = 0.5 + 0.35 * math.sin(2 * math.pi * t / period + phase) + 0.15 * math.sin(2 * math.pi * t / (period / 7.3) + phase * 3)
    return lo + (hi - lo) * min(1.0, max(0.0, x))


def series(kind, key, timeframe, maxima, running_since=None):
    step, points = TIMEFRAMES[timeframe]
    seed = zlib.crc32(str(key).encode())
    end = int(time.time()) // step * step
    out = []
    for i in range(points):
        t = end - (points - 1 - i) * step
        if running_since is not None and t < running_since and kind == "guest":
            out.append({"time": t, "maxcpu": maxima["maxcpu"], "maxmem": maxima["maxmem"],
                        "maxdisk": maxima["maxdisk"], "cpu": 0, "mem": 0, "netin": 0, "netout": 0,
                        "diskread": 0, "diskwrite": 0, "disk": 0})
            continue
        if kind == "guest":
            mem = _wave(seed, t, 86400, 0.25, 0.7) * maxima["maxmem"]
            out.append({"time": t, "maxcpu": maxima["maxcpu"], "cpu": round(_wave(seed, t, 3600 * 5, 0.01, 0.6), 5),
                        "maxmem": maxima["maxmem"], "mem": int(mem), "memhost": int(mem * 1.05),
                        "maxdisk": maxima["maxdisk"], "disk": 0,
                        "netin": round(_wave(seed + 1, t, 7200, 200, 90000), 2),
                        "netout": round(_wave(seed + 2, t, 7200, 100, 40000), 2),
                        "diskread": round(_wave(seed + 3, t, 10800, 0, 500000), 2),
                        "diskwrite": round(_wave(seed + 4, t, 10800, 1000, 300000), 2),
                        "pressurecpusome": round(_wave(seed + 5, t, 3600, 0, 0.05), 4),
                        "pressurecpufull": 0, "pressureiosome": round(_wave(seed + 6, t, 3600, 0, 0.02), 4),
                        "pressureiofull": 0, "pressurememorysome": 0, "pressurememoryfull": 0})
        else:
            memused = _wave(seed, t, 86400, 0.1, 0.6) * maxima["maxmem"]
            out.append({"time": t, "loadavg": round(_wave(seed, t, 3600 * 3, 0.1, 6.0), 2),
                        "maxcpu": maxima["maxcpu"], "cpu": round(_wave(seed, t, 3600 * 3, 0.01, 0.5), 5),
                        "iowait": round(_wave(seed + 9, t, 3600, 0, 0.03), 5),
                        "memtotal": maxima["maxmem"], "memused": int(memused),
                        "memavailable": int(maxima["maxmem"] - memused), "arcsize": 0,
                        "swaptotal": 8 * 1024 ** 3, "swapused": 0,
                        "roottotal": maxima["maxdisk"], "rootused": int(maxima["maxdisk"] * 0.12),
                        "netin": round(_wave(seed + 1, t, 7200, 5000, 900000), 2),
                        "netout": round(_wave(seed + 2, t, 7200, 3000, 600000), 2),
                        "pressurecpusome": 0, "pressureiosome": 0, "pressurememorysome": 0})
    return out
