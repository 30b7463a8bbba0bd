"""Power actions and migration, with the sync/in-task error split of FACTS.md section 3."""

import time

from . import ha
from .errors import TaskError, die, param_error
from .guestcommon import both, disk_total, get_guest, kind_of, label, skiplock
from .router import route
from .tasks import DURATIONS, start_task
from .util import GIB


def _set_running(guest):
    guest.status, guest.qmpstatus, guest.started_at = "running", "running", time.time()


def _set_stopped(guest):
    guest.status, guest.qmpstatus, guest.started_at = "stopped", "stopped", None


def do_start(ctx, guest, skip=False):
    """The worker half of a start: checks that PVE makes inside the task, then boot."""
    st = ctx.state
    with ctx.lock:
        guest.check_lock(skip)
        if guest.status == "running":
            raise TaskError(f"{label(guest.type)} {guest.vmid} already running")
        if guest.template:
            raise TaskError("you can't start a vm if it's a template")
        node = st.nodes[guest.node]
        if st.mem_used_on(node.name) + guest.maxmem > node.maxmem - 2 * GIB:
            if guest.type == "qemu":
                ctx.log("kvm: cannot set up guest memory 'pc.ram': Cannot allocate memory")
                raise TaskError("start failed: QEMU exited with code 1")
            raise TaskError(f"startup for container '{guest.vmid}' failed")
    ctx.sleep(DURATIONS["start"])
    with ctx.lock:
        _set_running(guest)
        if guest.hastate:
            guest.hastate = "started"


def _ha_request(req, guest, want):
    st = req.state
    sid = st.ha_sid(guest)

    def body(ctx):
        ctx.log(f"Requesting HA {'start' if want == 'started' else 'stop'} for {label(guest.type)} {guest.vmid}")
        ctx.sleep(DURATIONS["ha_request"])
        with ctx.lock:
            res = st.ha.get(sid)
            if res is None:
                raise TaskError(f"service '{sid}' is not managed by HA")
            res["state"] = want
            ha.converge(req.core, guest)

    return start_task(req.core, req, req.p("node"), "hastart" if want == "started" else "hastop", guest.vmid, body)


@both("POST", "/{vmid}/status/start")
def start(req):
    st = req.state
    kind = kind_of(req.template)
    with st.lock:
        guest = get_guest(req)
        skip = skiplock(req)
        if st.ha_of(guest) and str(req.p("ignore-ha", "0")) != "1":
            return _ha_request(req, guest, "started")
        if kind == "lxc" and guest.status == "running":
            raise die(f"CT {guest.vmid} already running")
    return start_task(req.core, req, req.p("node"), "qmstart" if kind == "qemu" else "vzstart", guest.vmid,
                      lambda ctx: do_start(ctx, guest, skip))


def _stopper(action):
    def handler(req):
        st = req.state
        kind = kind_of(req.template)
        with st.lock:
            guest = get_guest(req)
            skip = skiplock(req)
            if st.ha_of(guest) and action in ("stop", "shutdown"):
                return _ha_request(req, guest, "stopped")
            if kind == "lxc" and guest.status != "running":
                raise die(f"CT {guest.vmid} not running")
            if kind == "qemu" and action == "reboot" and guest.status != "running":
                raise die(f"VM {guest.vmid} not running")
        force = str(req.p("forceStop", "0")) == "1"

        def body(ctx):
            with ctx.lock:
                guest.check_lock(skip)
                if guest.status != "running":
                    return
                if action == "shutdown" and guest.qmpstatus == "paused" and not force:
                    raise TaskError("VM is paused - cannot shutdown")
            ctx.sleep(DURATIONS[action])
            with ctx.lock:
                _set_stopped(guest)
                if action == "reboot":
                    _set_running(guest)

        prefix = "qm" if kind == "qemu" else "vz"
        return start_task(req.core, req, req.p("node"), prefix + action, guest.vmid, body)
    return handler


for _action in ("stop", "shutdown", "reboot"):
    both("POST", f"/{{vmid}}/status/{_action}")(_stopper(_action))


def _pauser(action):
    def handler(req):
        st = req.state
        kind = kind_of(req.template)
        with st.lock:
            guest = get_guest(req)
            skip = skiplock(req)
            if guest.status != "running":
                raise die(f"{label(kind)} {guest.vmid} not running")

        def body(ctx):
            with ctx.lock:
                guest.check_lock(skip)
            ctx.sleep(DURATIONS[action if action != "reset" else "stop"])
            with ctx.lock:
                if action == "suspend":
                    guest.qmpstatus = "paused"
                elif action == "resume":
                    guest.qmpstatus = "running"
                else:
                    guest.started_at = time.time()

        prefix = "qm" if kind == "qemu" else "vz"
        return start_task(req.core, req, req.p("node"), prefix + action, guest.vmid, body)
    return handler


for _action in ("suspend", "resume"):
    both("POST", f"/{{vmid}}/status/{_action}")(_pauser(_action))
route("POST", "/nodes/{node}/qemu/{vmid}/status/reset")(_pauser("reset"))


# -- migration ---------------------------------------------------------------------------
@both("GET", "/{vmid}/migrate")
def migrate_check(req):
    st = req.state
    with st.lock:
        guest = get_guest(req)
        local = []
        not_allowed = {}
        for node in st.nodes:
            if node == guest.node:
                continue
            missing = [s for _, s, _, _ in guest.disks()
                       if st.store(node, s, required=False) is None]
            if missing:
                not_allowed[node] = {"unavailable_storages": sorted(set(missing))}
        for key, storeid, volname, size in guest.disks():
            if not st.storage_cfg[storeid].get("shared"):
                local.append({"volid": f"{storeid}:{volname}", "size": size, "drivename": key,
                              "is_unused": 1 if key.startswith("unused") else 0})
        allowed = [n for n in st.nodes if n != guest.node and n not in not_allowed
                   and st.nodes[n].status == "online"]
        return {"running": 1 if guest.status == "running" else 0, "allowed_nodes": allowed,
                "not_allowed_nodes": not_allowed, "local_disks": local, "local_resources": [],
                "mapped-resources": []}


def ha_migrate(req, guest, target):
    """CRM-driven migration (hamigrate / ha relocate); call under the lock."""
    st = req.state
    guest.hastate = "migrate"

    def body(ctx):
        ctx.sleep(DURATIONS["migrate_per_gib"] * disk_total(guest) / GIB)
        with ctx.lock:
            ha._move_guest(st, guest, target)
            guest.hastate = "started" if guest.status == "running" else "stopped"
    return start_task(req.core, req, guest.node, "hamigrate", guest.vmid, body)


@both("POST", "/{vmid}/migrate")
def migrate(req):
    st = req.state
    kind = kind_of(req.template)
    node = req.p("node")
    target = req.p("target")
    with st.lock:
        guest = get_guest(req)
        if target == node:
            raise param_error({"target": "target is local node."})
        tnode = st.nodes.get(target)
        if tnode is None:
            raise die(f"no such cluster node '{target}'")
        if tnode.status != "online":
            raise die(f"target node '{target}' not online")
        if st.ha_of(guest):
            return ha_migrate(req, guest, target)
        running = guest.status == "running"
        if running and kind == "qemu" and str(req.p("online", "0")) != "1":
            raise die("can't migrate running VM without --online")
        if running and kind == "lxc" and str(req.p("restart", "0")) != "1":
            raise die(f"CT {guest.vmid} is running - use online migration or restart mode")
        targetstorage = req.p("targetstorage")
        total = disk_total(guest)

    def body(ctx):
        with ctx.lock:
            guest.check_lock()
            moves = []
            for key, storeid, volname, size in guest.disks():
                if st.storage_cfg[storeid].get("shared"):
                    continue
                dest = targetstorage or storeid
                store = st.store(target, dest, required=False)
                if store is None:
                    raise TaskError(f"storage '{dest}' is not available on node '{target}'")
                if store.used + size > store.total:
                    raise TaskError(f"migration aborted: storage '{dest}' on node '{target}' is full")
                moves.append((key, storeid, volname, dest))
            if running and st.mem_used_on(target) + guest.maxmem > tnode.maxmem - 2 * GIB:
                raise TaskError("migration problems: kvm: cannot set up guest memory 'pc.ram': Cannot allocate memory")
            guest.config["lock"] = "migrate"
        ctx.log(f"starting migration of {label(kind)} {guest.vmid} to node '{target}'")
        try:
            ctx.sleep(DURATIONS["migrate_per_gib"] * max(total, GIB) / GIB)
        finally:
            with ctx.lock:
                guest.config.pop("lock", None)
        with ctx.lock:
            for key, storeid, volname, dest in moves:
                src = st.store(guest.node, storeid)
                vol = src.remove(f"{storeid}:{volname}")
                newvol = f"{dest}:{volname}"
                if vol:
                    vol["volid"] = newvol
                    st.store(target, dest).add(vol)
                guest.config[key] = guest.config[key].replace(f"{storeid}:{volname}", newvol, 1)
            guest.node = target
        ctx.log("migration finished successfully")

    return start_task(req.core, req, node, "qmigrate" if kind == "qemu" else "vzmigrate", guest.vmid, body)
