"""HA manager behaviour: requested states, node fencing and recovery on another node."""

import time

from .tasks import DURATIONS, schedule


def converge(core, guest):
    """Drive a guest toward its HA requested state, as the CRM/LRM would. Call under the lock."""
    state = core.state
    res = state.ha_of(guest)
    if res is None:
        guest.hastate = None
        return
    if state.nodes[guest.node].status != "online":
        return
    want = res["state"]
    if want in ("started", "enabled") and guest.status != "running":
        guest.hastate = "request_start"

        def started():
            if guest.vmid in state.guests and state.ha_of(guest) and state.nodes[guest.node].status == "online":
                guest.status, guest.qmpstatus, guest.started_at = "running", "running", time.time()
                guest.hastate = "started"
        schedule(core, DURATIONS["start"], started, name=f"ha-start-{guest.vmid}")
    elif want == "stopped" and guest.status == "running":
        guest.hastate = "request_stop"

        def stopped():
            if guest.vmid in state.guests:
                guest.status, guest.qmpstatus, guest.started_at = "stopped", "stopped", None
                guest.hastate = "stopped"
        schedule(core, DURATIONS["shutdown"], stopped, name=f"ha-stop-{guest.vmid}")
    elif want == "disabled":
        guest.hastate = "stopped"
        if guest.status == "running":
            guest.status, guest.qmpstatus, guest.started_at = "stopped", "stopped", None
    elif want == "ignored":
        guest.hastate = "ignored"
    else:
        guest.hastate = "started" if guest.status == "running" else "stopped"


def fail_node(core, name):
    state = core.state
    with state.lock:
        node = state.node(name)
        node.status = "offline"
        for task in state.tasks.values():
            if task.node == name and task.status == "running":
                # the worker died with its node; PVE later shows such tasks as 'unexpected status'
                task.stop_requested = "unexpected status"
        for guest in [g for g in state.guests.values() if g.node == name]:
            was_running = guest.status == "running"
            # the node's guests die with it; the config stays in the cluster filesystem
            guest.status, guest.qmpstatus, guest.started_at = "stopped", "stopped", None
            res = state.ha_of(guest)
            if res is None or res["state"] in ("disabled", "ignored"):
                continue
            if res["state"] == "stopped" and not was_running:
                continue
            guest.hastate = "fence"
            schedule(core, DURATIONS["ha_fence"], lambda g=guest: _recover(core, g, name),
                     name=f"ha-fence-{guest.vmid}")


def _recover(core, guest, failed_node):
    state = core.state
    if guest.vmid not in state.guests or guest.node != failed_node or state.nodes[failed_node].status == "online":
        return
    targets = state.online_nodes()
    if not targets:
        guest.hastate = "error"
        return
    guest.hastate = "recovery"
    target = min(targets, key=lambda n: state.mem_used_on(n.name) / n.maxmem)

    def move():
        if guest.vmid not in state.guests or guest.node != failed_node:
            return
        _move_guest(state, guest, target.name)
        res = state.ha_of(guest)
        if res and res["state"] in ("started", "enabled"):
            converge(core, guest)
        else:
            guest.hastate = "stopped"
    schedule(core, DURATIONS["ha_recovery"], move, name=f"ha-recover-{guest.vmid}")


def _move_guest(state, guest, target):
    """Move config and volumes (the HA setup implies shared or replicated storage)."""
    vols = []
    for _, storeid, volname, _ in guest.disks():
        src = state.store(guest.node, storeid, required=False)
        if src is not None and not src.cfg.get("shared"):
            vol = src.remove(f"{storeid}:{volname}")
            if vol:
                vols.append((storeid, vol))
    guest.node = target
    for storeid, vol in vols:
        dst = state.store(target, storeid, required=False)
        if dst is not None:
            dst.add(vol)


def recover_node(core, name):
    state = core.state
    with state.lock:
        node = state.node(name)
        node.status = "online"
        node.boot_time = time.time()
        for guest in [g for g in state.guests.values() if g.node == name]:
            if state.ha_of(guest) is not None:
                converge(core, guest)


def service_status(state):
    out = [{"id": "quorum", "type": "quorum", "status": "OK", "quorate": 1, "node": next(iter(state.nodes), "")}]
    master = next((n.name for n in state.online_nodes()), None)
    if master:
        out.append({"id": f"master/{master}", "type": "master", "node": master,
                    "status": f"{master} (active, {time.strftime('%a %b %d %H:%M:%S %Y')})"})
    for node in state.nodes.values():
        active = any(g.node == node.name for g in state.guests.values() if state.ha_of(g))
        lrm = "active" if active else "idle"
        if node.status != "online":
            lrm = "old timestamp - dead?"
        out.append({"id": f"lrm/{node.name}", "type": "lrm", "node": node.name,
                    "status": f"{node.name} ({lrm}, {time.strftime('%a %b %d %H:%M:%S %Y')})"})
    for sid, res in state.ha.items():
        guest = state.guests.get(int(sid.split(":")[1]))
        node = guest.node if guest else ""
        crm = guest.hastate if guest and guest.hastate else res["state"]
        out.append({"id": f"service:{sid}", "type": "service", "sid": sid, "node": node, "state": crm,
                    "crm_state": crm, "request_state": res["state"], "max_restart": res["max_restart"],
                    "max_relocate": res["max_relocate"], "failback": res.get("failback", 1),
                    "status": f"{sid} ({node}, {crm})"})
    return out
