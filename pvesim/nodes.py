"""Cluster membership and node boot: a node joining (``pvecm add``) and, when a failed node
comes back, pve-guests.service's ``startall`` of the guests with ``onboot=1``."""

import re
import time

from . import ha
from .errors import die, param_error
from .routes_power import do_start
from .state import Node
from .tasks import DURATIONS, schedule, start_task
from .util import GIB, as_bool, parse_propstring

_NODE_NAME = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?$")  # pve-common's pve-node format
LONG_MAX = 2 ** 63 - 1  # the order of guests without startup order (Nodes.pm get_start_stop_list)


# -- pvecm add ----------------------------------------------------------------------------------
def join_node(core, name, cores=32, memory_gb=128, disk_gb=100):
    """Add an empty, online node the way ``pvecm add`` leaves it: in the nodelist, with the
    cluster's storage.cfg (so empty per-node storages) and a new corosync config version."""
    name = str(name)
    errors = {}
    if not _NODE_NAME.match(name):
        errors["node"] = "invalid format - value does not look like a valid node name"
    sizes = {key: _positive(errors, key, value, integer=key == "cores")
             for key, value in (("cores", cores), ("memory_gb", memory_gb), ("disk_gb", disk_gb))}
    if errors:
        raise param_error(errors)
    state = core.state
    with state.lock:
        if name in state.nodes:
            # pve-cluster API2/ClusterConfig.pm addnode, which pvecm add calls on the cluster
            raise die(f"can't add existing node '{name}'")
        node = Node(name, sizes["cores"], int(sizes["memory_gb"] * GIB), int(sizes["disk_gb"] * GIB))
        node.boot_time = time.time()  # a node joins right after its installation
        node.guest_storage_total = int(sizes["disk_gb"] * GIB)
        state.add_node(node)
        state.config_version += 1


def _positive(errors, key, value, integer):
    kind = "integer" if integer else "number"
    try:
        number = int(str(value)) if integer else float(str(value))
    except ValueError:
        errors[key] = f"type check ('{kind}') failed - got '{value}'"
        return None
    if number < 1:
        errors[key] = "value must have a minimum value of 1"
    return number


# -- boot ---------------------------------------------------------------------------------------
def recover_node(core, name):
    """The node is back: HA converges its resources, and once the node's services are up
    pve-guests.service runs startall for the others."""
    state = core.state
    with state.lock:
        was_down = state.node(name).status != "online"
        ha.recover_node(core, name)
        if was_down:
            _schedule_startall(core, state.nodes[name])


class _Boot:
    """What start_task reads from a request: pve-guests runs ``pvesh create .../startall`` as root@pam."""
    method = "POST"
    auth_user = "root@pam"
    auth_token = None

    def __init__(self, path):
        self.path = path


def _schedule_startall(core, node):
    state = core.state
    booted = node.boot_time

    def run():
        # a later failure and recovery is another boot with its own startall
        if state.nodes.get(node.name) is node and node.status == "online" and node.boot_time == booted:
            start_task(core, _Boot(f"/nodes/{node.name}/startall"), node.name, "startall", "",
                       lambda ctx: _startall(core, ctx, node.name))
    schedule(core, DURATIONS["startall"], run, name=f"startall-{node.name}")


def _startall(core, ctx, name):
    with ctx.lock:
        groups = _start_order(ctx.state, name)
    for group in groups:
        workers = [w for w in (_start_one(core, ctx, name, guest, up) for guest, up in group) if w]
        # the next startup order begins only when this one's starts have finished
        for upid, guest in workers:
            status = ctx.wait_task(upid)
            if status != "OK":
                ctx.log(f"Starting {guest.label} {guest.vmid} failed: {status}")


def _start_order(state, name):
    """Groups of (guest, up delay) by startup order, then vmid; HA resources are left to the
    HA manager and templates are never started."""
    groups = {}
    for guest in state.guests.values():
        if guest.node != name or not as_bool(guest.config.get("onboot", 0)) or guest.template \
                or state.ha_of(guest) is not None:
            continue
        startup = parse_propstring(guest.config.get("startup", ""), default_key="order")
        order = _int(startup.get("order"), LONG_MAX)
        groups.setdefault(order, []).append((guest, _int(startup.get("up"), None)))
    return [sorted(groups[order], key=lambda item: item[0].vmid) for order in sorted(groups)]


def _int(text, default):
    return int(text) if text is not None and str(text).isdigit() else default


def _start_one(core, ctx, name, guest, up):
    state = ctx.state
    with ctx.lock:
        if state.guests.get(guest.vmid) is not guest or guest.node != name or guest.status == "running":
            return None
    ctx.log(f"Starting {guest.label} {guest.vmid}")
    kind = guest.type
    upid = start_task(core, _Boot(f"/nodes/{name}/{kind}/{guest.vmid}/status/start"), name,
                      "qmstart" if kind == "qemu" else "vzstart", guest.vmid, lambda c: do_start(c, guest))
    # VMs get a pause by default to spread the load of booting them
    delay = up if up is not None else (DURATIONS["startall_vm_gap"] if kind == "qemu" else 0)
    if up:
        ctx.log(f"Waiting for {up} seconds (startup delay)")
    if delay:
        ctx.sleep(delay)
    return upid, guest
