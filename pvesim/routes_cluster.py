"""Cluster-wide and node-level read endpoints, tasks, HA, pools and tickets."""

import re
import time

from . import ha, metrics
from .certs import fingerprint
from .errors import die, param_error
from .router import route
from .routes_power import ha_migrate
from .routes_storage import download_template
from .state import guest_resource, node_entry, storage_entry
from .util import GIB, config_digest

UPID_RE = re.compile(r"^UPID:([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):"
                     r"([0-9A-Fa-f]{8}):([^:\s/]+):([^:\s/]*):([^:\s/]+):$")
PVE_VERSION = {"version": "9.1.1", "release": "9.1", "repoid": "42db4a6cf33dac83", "console": "html5"}


@route("POST", "/access/ticket")
def ticket(req):
    return req.core.auth.login(req.params)


ALL_PRIVILEGES = (
    "Datastore.Allocate", "Datastore.AllocateSpace", "Datastore.AllocateTemplate", "Datastore.Audit",
    "Pool.Allocate", "Pool.Audit", "SDN.Allocate", "SDN.Audit", "SDN.Use", "Sys.AccessNetwork", "Sys.Audit",
    "Sys.Console", "Sys.Incoming", "Sys.Modify", "Sys.PowerMgmt", "Sys.Syslog", "VM.Allocate", "VM.Audit",
    "VM.Backup", "VM.Clone", "VM.Config.CDROM", "VM.Config.CPU", "VM.Config.Cloudinit", "VM.Config.Disk",
    "VM.Config.HWType", "VM.Config.Memory", "VM.Config.Network", "VM.Config.Options", "VM.Console",
    "VM.GuestAgent.Audit", "VM.Migrate", "VM.PowerMgmt", "VM.Snapshot", "VM.Snapshot.Rollback",
)


@route("GET", "/access/permissions")
def permissions(req):
    acl = req.core.acl
    if acl is None:
        table = {"/": {p: 1 for p in ALL_PRIVILEGES}}
    else:
        table = {path: {p: 1 for p in sorted(privs)} for path, privs in acl.entries.items()}
    if req.p("path"):
        path = "/" + req.p("path").strip("/")
        privs = set(ALL_PRIVILEGES) if acl is None else acl.privs_on(path)
        return {path: {p: 1 for p in sorted(privs)}}
    return table


@route("GET", "/version")
def version(req):
    return dict(PVE_VERSION)


@route("GET", "/nodes")
def nodes(req):
    st = req.state
    fp = fingerprint(req.core.cert_path) if getattr(req.core, "cert_path", None) else ""
    with st.lock:
        out = []
        by_node = {}
        for entry in st.cluster_resources("node"):
            by_node[entry["node"]] = entry
        for node in st.nodes.values():
            entry = dict(by_node[node.name])
            entry["ssl_fingerprint"] = fp
            out.append(entry)
        return out


@route("GET", "/nodes/{node}")
def node_index(req):
    return [{"name": n} for n in ("aplinfo", "qemu", "lxc", "rrddata", "status", "storage", "tasks",
                                  "vzdump", "termproxy")]


@route("GET", "/nodes/{node}/status")
def node_status(req):
    st = req.state
    with st.lock:
        node = st.node(req.p("node"))
        used = st.mem_used_on(node.name) + 2 * GIB
        entry = node_entry(st, node)
    return {
        "uptime": int(time.time() - node.boot_time), "idle": 0, "loadavg": ["0.12", "0.10", "0.05"],
        "kversion": "Linux 6.14.8-2-pve #1 SMP PREEMPT_DYNAMIC PMX 6.14.8-2 (2025-07-22T10:04Z)",
        "current-kernel": {"sysname": "Linux", "release": "6.14.8-2-pve", "machine": "x86_64",
                           "version": "#1 SMP PREEMPT_DYNAMIC PMX 6.14.8-2 (2025-07-22T10:04Z)"},
        "boot-info": {"mode": "efi", "secureboot": 0},
        "cpuinfo": {"cpus": node.maxcpu, "model": "AMD EPYC 7313P 16-Core Processor", "sockets": 1,
                    "cores": node.maxcpu // 2, "mhz": "3000.000", "hvm": "1", "flags": "fpu vme de pse",
                    "user_hz": 100},
        "cpu": entry.get("cpu", 0), "wait": 0.001,
        "memory": {"total": node.maxmem, "used": used, "free": node.maxmem - used,
                   "available": node.maxmem - used},
        "ksm": {"shared": 0},
        "swap": {"total": 8 * GIB, "used": 0, "free": 8 * GIB},
        "pveversion": "pve-manager/9.1.1/42db4a6cf33dac83",
        "rootfs": {"total": node.maxdisk, "used": int(node.maxdisk * 0.12), "avail": int(node.maxdisk * 0.88),
                   "free": int(node.maxdisk * 0.88)},
    }


@route("GET", "/nodes/{node}/rrddata")
def node_rrd(req):
    st = req.state
    with st.lock:
        node = st.node(req.p("node"))
        maxima = {"maxcpu": node.maxcpu, "maxmem": node.maxmem, "maxdisk": node.maxdisk}
        load = list(node.load)
    return metrics.series("node", node.name, req.p("timeframe"), maxima, cf=req.p("cf") or "AVERAGE", load=load)


@route("GET", "/cluster/resources")
def resources(req):
    with req.state.lock:
        return req.state.cluster_resources(req.p("type"))


@route("GET", "/cluster/status")
def cluster_status(req):
    st = req.state
    with st.lock:
        out = [{"id": "cluster", "type": "cluster", "name": st.cluster_name, "nodes": len(st.nodes),
                "quorate": 1, "version": st.config_version}]
        for i, node in enumerate(st.nodes.values()):
            out.append({"id": f"node/{node.name}", "type": "node", "name": node.name, "nodeid": i + 1,
                        "online": 1 if node.status == "online" else 0, "local": 1 if i == 0 else 0,
                        "ip": node.ip or f"10.0.0.{i + 11}", "level": ""})
        return out


@route("GET", "/cluster/nextid")
def nextid(req):
    st = req.state
    with st.lock:
        want = req.p("vmid")
        if want is not None:
            if int(want) in st.guests or int(want) in st.reserved_vmids:
                raise param_error({"vmid": f"VM {int(want)} already exists"})
            return str(int(want))
        # Perl hands the id back as a string (see FACTS.md section 1)
        return str(st.next_vmid())


# -- tasks -------------------------------------------------------------------------
def _task(req):
    upid = req.p("upid")
    if not UPID_RE.match(upid or ""):
        raise param_error({"upid": "unable to parse worker upid"})
    task = req.state.tasks.get(upid)
    if task is None:
        raise param_error({"upid": "no such task"})
    return task


@route("GET", "/nodes/{node}/tasks/{upid}")
def task_index(req):
    with req.state.lock:
        _task(req)
    return [{"name": "log"}, {"name": "status"}]


@route("GET", "/nodes/{node}/tasks/{upid}/status")
def task_status(req):
    with req.state.lock:
        return _task(req).status_dict()


@route("GET", "/nodes/{node}/tasks/{upid}/log")
def task_log(req):
    with req.state.lock:
        task = _task(req)
        lines = list(task.lines)
    start = int(req.p("start", 0) or 0)
    limit = int(req.p("limit", 50) or 50)
    data = [{"n": i + 1, "t": t} for i, t in enumerate(lines)][start:start + limit]
    return data, {"total": len(lines)}


@route("DELETE", "/nodes/{node}/tasks/{upid}")
def task_stop(req):
    with req.state.lock:
        task = _task(req)
        if task.status == "running":
            task.stop_requested = "received interrupt"
    return None


def _task_list(req, node=None):
    st = req.state
    with st.lock:
        tasks = [t for t in st.tasks.values() if node is None or t.node == node]
        vmid = req.p("vmid")
        if vmid is not None:
            tasks = [t for t in tasks if t.id == str(vmid)]
        if req.p("typefilter"):
            tasks = [t for t in tasks if t.type == req.p("typefilter")]
        source = req.p("source", "archive")
        if source == "active":
            tasks = [t for t in tasks if t.status == "running"]
        errors = str(req.p("errors", "0")) == "1"
        if errors:
            tasks = [t for t in tasks if t.status == "stopped" and t.exitstatus != "OK"]
        tasks = sorted(tasks, key=lambda t: (t.status != "running", -t.starttime, -t.pid))
        entries = [t.list_entry() for t in tasks]
    start = int(req.p("start", 0) or 0)
    limit = int(req.p("limit", 50) or 50)
    return entries[start:start + limit], {"total": len(entries)}


@route("GET", "/nodes/{node}/tasks")
def node_tasks(req):
    return _task_list(req, req.p("node"))


@route("GET", "/cluster/tasks")
def cluster_tasks(req):
    data, _ = _task_list(req)
    return data


# -- aplinfo -----------------------------------------------------------------------
@route("GET", "/nodes/{node}/aplinfo")
def aplinfo(req):
    with req.state.lock:
        return [dict(e) for e in req.state.aplinfo]


@route("POST", "/nodes/{node}/aplinfo")
def aplinfo_download(req):
    st = req.state
    with st.lock:
        entry = next((e for e in st.aplinfo if e["template"] == req.p("template")), None)
        if entry is None:
            raise param_error({"template": "no such template"})
        store = st.store(req.p("node"), req.p("storage"))
        if "vztmpl" not in store.cfg["content"]:
            raise die(f"storage '{store.id}' does not support templates")
    return download_template(req, store, entry["template"], 200 * 1024 ** 2, entry["location"])


# -- HA ----------------------------------------------------------------------------
def _resolve_sid(st, sid):
    m = re.match(r"^(?:(vm|ct):)?(\d+)$", str(sid))
    if not m:
        raise param_error({"sid": "unable to parse service id"})
    guest = st.guests.get(int(m.group(2)))
    if m.group(1) is None:
        if guest is None:
            raise die(f"unable to detect SID from VMID - VM/CT {m.group(2)} does not exist")
        return st.ha_sid(guest), guest
    return f"{m.group(1)}:{int(m.group(2))}", guest


@route("GET", "/cluster/ha")
def ha_index(req):
    return [{"id": "resources"}, {"id": "status"}, {"id": "rules"}]


@route("GET", "/cluster/ha/resources")
def ha_resources(req):
    st = req.state
    with st.lock:
        digest = config_digest({k: v for k, v in st.ha.items()})
        out = []
        for res in st.ha.values():
            if req.p("type") and res["type"] != req.p("type"):
                continue
            out.append({**{k: v for k, v in res.items() if v is not None}, "digest": digest})
        return out


@route("POST", "/cluster/ha/resources")
def ha_add(req):
    st = req.state
    with st.lock:
        if req.p("group"):
            raise param_error({"group": "ha groups have been migrated to rules"})
        sid, guest = _resolve_sid(st, req.p("sid"))
        if sid in st.ha:
            raise die(f"resource ID '{sid}' already defined")
        if guest is None:
            raise die(f"unable to detect SID from VMID - VM/CT {sid.split(':')[1]} does not exist")
        st.ha[sid] = {"sid": sid, "type": sid.split(":")[0], "state": req.p("state", "started"),
                      "max_restart": int(req.p("max_restart", 1)), "max_relocate": int(req.p("max_relocate", 1)),
                      "failback": int(req.p("failback", 1)), "comment": req.p("comment")}
        ha.converge(req.core, guest)
    return None


def _ha_res(req):
    st = req.state
    sid, guest = _resolve_sid(st, req.p("sid"))
    res = st.ha.get(sid)
    if res is None:
        raise die(f"no such resource '{sid}'")
    return sid, res, guest


@route("GET", "/cluster/ha/resources/{sid}")
def ha_get(req):
    with req.state.lock:
        _, res, _ = _ha_res(req)
        return {k: v for k, v in res.items() if v is not None}


@route("PUT", "/cluster/ha/resources/{sid}")
def ha_put(req):
    with req.state.lock:
        _, res, guest = _ha_res(req)
        for key in ("state", "max_restart", "max_relocate", "failback", "comment"):
            if req.p(key) is not None:
                res[key] = req.p(key) if key in ("state", "comment") else int(req.p(key))
        for key in (req.p("delete") or "").split(","):
            if key in ("comment",):
                res[key] = None
        if guest is not None:
            ha.converge(req.core, guest)
    return None


@route("DELETE", "/cluster/ha/resources/{sid}")
def ha_delete(req):
    st = req.state
    with st.lock:
        sid, guest = _resolve_sid(st, req.p("sid"))
        if sid not in st.ha:
            raise die(f"cannot delete service '{sid}', not HA managed!")
        del st.ha[sid]
        if guest is not None:
            guest.hastate = None
    return None


def _ha_move(req):
    st = req.state
    with st.lock:
        sid, res, guest = _ha_res(req)
        if guest is not None and guest.hastate == "error":
            raise die(f"service '{sid}' in error state, must be disabled and fixed first")
        target = req.p("node")
        st.node(target)
        if guest is not None and guest.node != target:
            ha_migrate(req, guest, target)
        return {"sid": sid, "requested-node": target}


@route("POST", "/cluster/ha/resources/{sid}/migrate")
def ha_migrate_route(req):
    return _ha_move(req)


@route("POST", "/cluster/ha/resources/{sid}/relocate")
def ha_relocate_route(req):
    return _ha_move(req)


@route("GET", "/cluster/ha/status/current")
def ha_status(req):
    with req.state.lock:
        return ha.service_status(req.state)


# -- pools -------------------------------------------------------------------------
def _pool_members(st, poolid):
    pool = st.pools[poolid]
    out = []
    for vmid in sorted(pool["vms"]):
        guest = st.guests.get(vmid)
        if guest:
            out.append(guest_resource(st, guest))
    for storeid in sorted(pool["storage"]):
        for node in st.nodes:
            store = st.store(node, storeid, required=False)
            if store:
                out.append(storage_entry(store, node))
    return out


@route("GET", "/pools")
def pools(req):
    st = req.state
    with st.lock:
        out = []
        for poolid, pool in st.pools.items():
            if req.p("poolid") and poolid != req.p("poolid"):
                continue
            entry = {"poolid": poolid, "members": _pool_members(st, poolid)}
            if req.p("type"):
                entry["members"] = [m for m in entry["members"] if m["type"] == req.p("type")]
            if pool.get("comment"):
                entry["comment"] = pool["comment"]
            out.append(entry)
        return out


@route("POST", "/pools")
def pool_create(req):
    st = req.state
    with st.lock:
        poolid = req.p("poolid")
        if poolid in st.pools:
            raise die(f"pool '{poolid}' already exists")
        st.pools[poolid] = {"comment": req.p("comment"), "vms": set(), "storage": set()}
    return None


@route("GET", "/pools/{poolid}")
def pool_get(req):
    st = req.state
    with st.lock:
        poolid = req.p("poolid")
        if poolid not in st.pools:
            raise die(f"pool '{poolid}' does not exist")
        out = {"members": _pool_members(st, poolid)}
        if st.pools[poolid].get("comment"):
            out["comment"] = st.pools[poolid]["comment"]
        return out


def _pool_update(req, poolid):
    st = req.state
    with st.lock:
        if poolid not in st.pools:
            raise die(f"pool '{poolid}' does not exist")
        pool = st.pools[poolid]
        if req.p("comment") is not None:
            pool["comment"] = req.p("comment")
        remove = str(req.p("delete", "0")) == "1"
        vms = [int(v) for v in re.split(r"[,;\s]+", str(req.p("vms") or "")) if v]
        for vmid in vms:
            guest = st.guests.get(vmid)
            if guest is None:
                raise die(f"no such VM '{vmid}'")
            if remove:
                if vmid not in pool["vms"]:
                    raise die(f"VM {vmid} is not a pool member")
                pool["vms"].discard(vmid)
                guest.pool = None
                continue
            if vmid in pool["vms"]:
                raise die(f"VM {vmid} is already a pool member")
            if guest.pool and guest.pool != poolid:
                if str(req.p("allow-move", "0")) != "1":
                    raise die(f"VM {vmid} belongs already to pool '{guest.pool}' and 'allow-move' is not set")
                st.pools[guest.pool]["vms"].discard(vmid)
            pool["vms"].add(vmid)
            guest.pool = poolid
        for storeid in [s for s in re.split(r"[,;\s]+", str(req.p("storage") or "")) if s]:
            if remove:
                pool["storage"].discard(storeid)
            else:
                pool["storage"].add(storeid)
    return None


@route("PUT", "/pools")
def pool_update(req):
    return _pool_update(req, req.p("poolid"))


@route("PUT", "/pools/{poolid}")
def pool_update_old(req):
    return _pool_update(req, req.p("poolid"))


@route("DELETE", "/pools/{poolid}")
def pool_delete(req):
    st = req.state
    with st.lock:
        poolid = req.p("poolid")
        if poolid not in st.pools:
            raise die(f"pool '{poolid}' does not exist")
        if st.pools[poolid]["vms"]:
            raise die(f"pool '{poolid}' is not empty (contains VM {min(st.pools[poolid]['vms'])})")
        del st.pools[poolid]
    return None
