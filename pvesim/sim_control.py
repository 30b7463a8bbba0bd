"""The ``/_sim/`` control API (same auth as the PVE API) and the state dump."""

import re
import time

from . import ha, nodes
from .errors import ApiError, param_error
from .guestcommon import public_config


def dump_state(core):
    st = core.state
    with st.lock:
        guests = []
        for g in sorted(st.guests.values(), key=lambda g: g.vmid):
            res = st.ha_of(g)
            guests.append({"vmid": g.vmid, "type": g.type, "node": g.node, "status": g.status,
                           "qmpstatus": g.qmpstatus, "lock": g.lock, "name": g.name,
                           "template": g.template, "pool": g.pool, "config": public_config(g),
                           "ha": {"managed": 1 if res else 0, "state": g.hastate,
                                  "request": res["state"] if res else None},
                           "snapshots": [{"name": n, "parent": s.get("parent"), "snaptime": s["snaptime"],
                                          "description": s.get("description", "")}
                                         for n, s in g.snapshots.items()],
                           "parent": g.parent})
        storage = {}
        for key, store in st.stores.items():
            label = key if isinstance(key, str) else f"{key[0]}/{key[1]}"
            storage[label] = {"storage": store.id, "node": store.node, "type": store.cfg["type"],
                              "shared": store.cfg.get("shared", 0), "total": store.total, "used": store.used,
                              "content": [{k: v for k, v in vol.items() if not k.startswith("_")}
                                          for vol in store.volumes.values()]}
        return {
            "cluster": {"name": st.cluster_name, "config_version": st.config_version},
            "nodes": [{"node": n.name, "status": n.status, "maxcpu": n.maxcpu, "maxmem": n.maxmem,
                       "maxdisk": n.maxdisk, "mem_used": st.mem_used_on(n.name)} for n in st.nodes.values()],
            "guests": guests,
            "storage": storage,
            "tasks": [dict(t.status_dict(), log=list(t.lines)) for t in st.tasks.values()],
            "ha": [dict(v) for v in st.ha.values()],
            "pools": {k: {"comment": v.get("comment"), "vms": sorted(v["vms"]), "storage": sorted(v["storage"])}
                      for k, v in st.pools.items()},
            "running_tasks": st.running_tasks,
            "pending_timers": st.pending_timers,
            "faults": core.faults.list(),
            "registry": core.registry.tags(),
            "time_scale": core.time_scale,
        }


def dispatch(core, method, path, params):
    """Return (template, data) for a control request."""
    path = "/" + path.strip("/")
    if method == "GET" and path == "/state":
        return "/_sim/state", dump_state(core)
    if method == "POST" and path == "/reset":
        core.reset()
        return "/_sim/reset", None
    if path == "/faults":
        if method == "POST":
            allowed = {"method", "path", "count", "status", "reason", "task_error"}
            return "/_sim/faults", core.faults.add(**{k: v for k, v in params.items() if k in allowed})
        if method == "DELETE":
            core.faults.clear()
            return "/_sim/faults", None
        if method == "GET":
            return "/_sim/faults", core.faults.list()
    m = re.match(r"^/nodes/([^/]+)/(fail|recover|join)$", path)
    if m and method == "POST":
        name, action = m.group(1), m.group(2)
        if action == "join":
            sizes = {k: params[k] for k in ("cores", "memory_gb", "disk_gb") if params.get(k) is not None}
            nodes.join_node(core, name, **sizes)
        else:
            (ha.fail_node if action == "fail" else nodes.recover_node)(core, name)
        return f"/_sim/nodes/{{node}}/{action}", None
    if path == "/outage" and method == "POST":
        if core.outage_hook is None:
            raise ApiError(501, "outage needs a running server")
        core.outage_hook(float(params.get("seconds", 5)))
        return "/_sim/outage", None
    if path == "/load" and method == "POST":
        return "/_sim/load", add_load(core, **{k: params.get(k) for k in ("vmid", "node", "cpu", "seconds", "ago")})
    if path == "/requests" and method == "GET":
        return "/_sim/requests", core.request_counts()
    if path == "/privileges" and method == "POST":
        core.set_privileges(params.get("privileges"))
        return "/_sim/privileges", None
    if path == "/time-scale" and method == "POST":
        core.time_scale = float(params.get("time_scale", params.get("value", 1.0)))
        return "/_sim/time-scale", None
    if path == "/consoles" and method == "GET":
        return "/_sim/consoles", core.consoles.summary()
    if path == "/consoles/drop" and method == "POST":
        return "/_sim/consoles/drop", core.consoles.drop(params.get("vmid"))
    if path == "/registry" and method in ("GET", "POST", "DELETE"):
        return "/_sim/registry", _registry(core.registry, method, params)
    raise ApiError(501, f"Method '{method} /_sim{path}' not implemented")


def _registry(registry, method, params):
    if method == "GET":
        return registry.tags()
    missing = {k: "property is missing and it is not optional" for k in ("repo", "tag") if not params.get(k)}
    if missing:
        raise param_error(missing)
    repo, tag = str(params["repo"]), str(params["tag"])
    try:
        if method == "POST":
            size_mb = params.get("size_mb")
            return registry.push(repo, tag, None if size_mb is None else int(size_mb))
        registry.delete(repo, tag)
        return None
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    except KeyError as exc:
        raise ApiError(404, exc.args[0]) from None


def add_load(core, vmid=None, node=None, cpu=0.9, seconds=60, ago=0):
    """A burst of CPU load on a guest (or a node) `ago` seconds ago, lasting `seconds`: the RRD
    curves show it in every timeframe, flattened in AVERAGE, at full height in MAX."""
    end = time.time() - float(ago or 0)
    event = {"start": end - float(seconds or 60), "end": end, "values": {"cpu": float(cpu)}}
    st = core.state
    with st.lock:
        if vmid is not None:
            target = st.guests.get(int(vmid))
        else:
            target = st.nodes.get(node)
        if target is None:
            raise ApiError(404, "no such guest or node")
        target.load.append(event)
        if getattr(target, "started_at", None) and target.started_at > event["start"]:
            target.started_at = event["start"]  # busy then means running then
    return event
