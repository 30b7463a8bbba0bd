"""The graphs block, the same for a customer's server and a staff node page: cached rrddata only."""

import json

from django.shortcuts import render
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from . import server_metrics

RANGES = {"hour": gettext_lazy("Hour"), "day": gettext_lazy("Day"), "week": gettext_lazy("Week"), "month": gettext_lazy("Month")}
CHARTS = {
    # name: label, colour of the fallback line, whether the value is a share (else bytes/s)
    "cpu": (gettext_lazy("CPU"), "#1f6feb", True),
    "memory": (gettext_lazy("Memory"), "#2e8b57", True),
    "network": (gettext_lazy("Network"), "#8250df", False),
    "disk": (gettext_lazy("Disk I/O"), "#bf8700", False),
}
SERVER_CHARTS = ("cpu", "memory", "network", "disk")
# A node's rrddata has no disk throughput (it reports I/O wait instead).
NODE_CHARTS = ("cpu", "memory", "network")


def _peak(value, share):
    if share:
        return f"{round(value * 100)} %"
    # The same decimal units as the charts' axes (static/js/graphs.js), in the page's number format.
    units, i = ["B/s", "kB/s", "MB/s", "GB/s"], 0
    while abs(value) >= 1000 and i < len(units) - 1:
        value /= 1000
        i += 1
    return f"{number_format(value, 1 if 0 < value < 10 else 0)}\u00a0{units[i]}"


def render_graphs(request, target, *, url, fetchable, charts=SERVER_CHARTS):
    timeframe = request.GET.get("timeframe", "hour")
    if timeframe not in server_metrics.TIMEFRAMES:
        timeframe = "hour"
    data = server_metrics.cached(target, timeframe)
    if fetchable and not server_metrics.is_fresh(data):
        server_metrics.request_refresh(target, timeframe)
    shown = []
    if data:
        for name in charts:
            label, colour, share = CHARTS[name]
            shown.append({"key": name, "label": label, "colour": colour, "line": data["lines"][name],
                          "peak": _peak(data["peaks"][name], share)})
    return render(request, "provisioning/_graphs.html", {
        "graphs_url": url, "data": data, "charts": shown, "timeframe": timeframe,
        "timeframes": [{"key": k, "label": RANGES[k]} for k in server_metrics.TIMEFRAMES],
        "series_json": json.dumps(data["series"]) if data and data.get("series") else "",
        "labels_json": json.dumps({
            "cpu": _("CPU"), "cpumax": pgettext("chart", "peak"), "memory": _("Memory"),
            "netin": pgettext("traffic", "received"), "netout": pgettext("traffic", "sent"),
            "diskread": pgettext("traffic", "read"), "diskwrite": pgettext("traffic", "written"), "time": _("Time"),
        }),
    })

