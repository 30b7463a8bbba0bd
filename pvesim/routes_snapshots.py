"""Snapshots (with the ``current`` pseudo entry)."""

import copy
import time

from .errors import TaskError, die
from .guestcommon import both, get_guest, kind_of, label, public_config, snapshot_capable
from .tasks import DURATIONS, start_task

RESERVED = ("current", "pending")


@both("GET", "/{vmid}/snapshot")
def snapshot_list(req):
    with req.state.lock:
        guest = get_guest(req)
        out = []
        for name, snap in guest.snapshots.items():
            entry = {"name": name, "snaptime": snap["snaptime"], "description": snap.get("description", "")}
            if guest.type == "qemu":
                entry["vmstate"] = snap.get("vmstate", 0)
            if snap.get("parent"):
                entry["parent"] = snap["parent"]
            if snap.get("snapstate"):
                entry["snapstate"] = snap["snapstate"]
            out.append(entry)
        current = {"name": "current", "description": "You are here!", "digest": guest.digest(),
                   "running": 1 if guest.status == "running" else 0}
        if guest.parent:
            current["parent"] = guest.parent
        out.append(current)
        return out


@both("POST", "/{vmid}/snapshot")
def snapshot_create(req):
    st = req.state
    kind = kind_of(req.template)
    name = req.p("snapname")
    if name.lower() in RESERVED:
        raise die(f"unable to use snapshot name '{name}' (reserved name)")
    with st.lock:
        guest = get_guest(req)
    vmstate = str(req.p("vmstate", "0")) == "1"

    def body(ctx):
        with ctx.lock:
            guest.check_lock()
            if name in guest.snapshots:
                raise TaskError(f"snapshot name '{name}' already used")
            if guest.template:
                raise TaskError("you can't take a snapshot if it's a template")
            if not snapshot_capable(st, guest):
                raise TaskError("snapshot feature is not available")
            guest.config["lock"] = "snapshot"
            guest.snapshots[name] = {"snaptime": int(time.time()), "description": req.p("description", ""),
                                     "vmstate": 1 if vmstate and guest.status == "running" else 0,
                                     "parent": guest.parent, "snapstate": "prepare",
                                     "config": {k: v for k, v in guest.config.items() if k != "lock"},
                                     "running": guest.status == "running"}
        ctx.log(f"snapshotting '{name}'")
        ctx.sleep(DURATIONS["snapshot"] * (3 if vmstate else 1))
        with ctx.lock:
            guest.snapshots[name].pop("snapstate", None)
            guest.parent = name
            guest.config.pop("lock", None)

    def undo():
        if guest.lock == "snapshot":
            guest.config.pop("lock", None)
            snap = guest.snapshots.get(name)
            if snap and snap.get("snapstate") == "prepare":
                del guest.snapshots[name]

    return start_task(req.core, req, req.p("node"), "qmsnapshot" if kind == "qemu" else "vzsnapshot",
                      guest.vmid, body, undo)


@both("GET", "/{vmid}/snapshot/{snapname}")
def snapshot_index(req):
    with req.state.lock:
        guest = get_guest(req)
        if req.p("snapname") not in guest.snapshots:
            raise die(f"snapshot '{req.p('snapname')}' does not exist")
    return [{"cmd": "rollback"}, {"cmd": "config"}]


@both("GET", "/{vmid}/snapshot/{snapname}/config")
def snapshot_config(req):
    with req.state.lock:
        guest = get_guest(req)
        snap = guest.snapshots.get(req.p("snapname"))
        if snap is None:
            raise die(f"snapshot '{req.p('snapname')}' does not exist")
        conf = public_config(guest, snap["config"])
        conf.update({"snaptime": snap["snaptime"], "description": snap.get("description", "")})
        if snap.get("parent"):
            conf["parent"] = snap["parent"]
        return conf


@both("PUT", "/{vmid}/snapshot/{snapname}/config")
def snapshot_config_put(req):
    with req.state.lock:
        guest = get_guest(req)
        snap = guest.snapshots.get(req.p("snapname"))
        if snap is None:
            raise die(f"snapshot '{req.p('snapname')}' does not exist")
        if req.p("description") is not None:
            snap["description"] = req.p("description")
    return None


@both("POST", "/{vmid}/snapshot/{snapname}/rollback")
def snapshot_rollback(req):
    st = req.state
    kind = kind_of(req.template)
    name = req.p("snapname")
    with st.lock:
        guest = get_guest(req)
    start_after = str(req.p("start", "0")) == "1"

    def body(ctx):
        with ctx.lock:
            guest.check_lock()
            snap = guest.snapshots.get(name)
            if snap is None:
                raise TaskError(f"snapshot '{name}' does not exist")
            guest.config["lock"] = "rollback"
            if guest.status == "running":
                ctx.log(f"stopping {label(kind)} {guest.vmid} for rollback")
                guest.status, guest.qmpstatus, guest.started_at = "stopped", "stopped", None
        ctx.sleep(DURATIONS["rollback"])
        with ctx.lock:
            guest.config = copy.deepcopy(snap["config"])
            guest.parent = name
            if snap.get("vmstate") or start_after:
                guest.status, guest.qmpstatus, guest.started_at = "running", "running", time.time()

    def undo():
        if guest.lock == "rollback":
            guest.config.pop("lock", None)

    return start_task(req.core, req, req.p("node"), "qmrollback" if kind == "qemu" else "vzrollback",
                      guest.vmid, body, undo)


@both("DELETE", "/{vmid}/snapshot/{snapname}")
def snapshot_delete(req):
    st = req.state
    kind = kind_of(req.template)
    name = req.p("snapname")
    with st.lock:
        guest = get_guest(req)
    force = str(req.p("force", "0")) == "1"

    def body(ctx):
        with ctx.lock:
            if not force:
                guest.check_lock()
            if name not in guest.snapshots:
                raise TaskError(f"snapshot '{name}' does not exist")
            guest.config["lock"] = "snapshot-delete"
            guest.snapshots[name]["snapstate"] = "delete"
        ctx.sleep(DURATIONS["delsnapshot"])
        with ctx.lock:
            snap = guest.snapshots.pop(name)
            for other in guest.snapshots.values():
                if other.get("parent") == name:
                    other["parent"] = snap.get("parent")
            if guest.parent == name:
                guest.parent = snap.get("parent")
            guest.config.pop("lock", None)

    def undo():
        if guest.lock == "snapshot-delete":
            guest.config.pop("lock", None)

    return start_task(req.core, req, req.p("node"), "qmdelsnapshot" if kind == "qemu" else "vzdelsnapshot",
                      guest.vmid, body, undo)
