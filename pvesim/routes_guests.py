"""QEMU and LXC guests: lists, create, clone, config, status, resize, template, destroy."""

import copy
import time
import uuid

from . import ha, metrics
from .errors import TaskError, die
from .guestcommon import (
    _cloudinit_name,
    add_to_pool,
    allocate_disks,
    apply_config_values,
    both,
    check_pool,
    check_storages_exist,
    get_guest,
    kind_of,
    label,
    new_identity,
    normalize_net,
    parse_resize,
    public_config,
    skiplock,
)
from .router import route
from .routes_power import do_start
from .routes_storage import restore
from .state import Guest
from .tasks import DURATIONS, start_task
from .util import GIB, format_size, parse_disk


def list_entry(state, guest):
    running = guest.status == "running"
    out = {"vmid": guest.vmid, "name": guest.name, "status": guest.status, "cpus": guest.maxcpu,
           "maxmem": guest.maxmem, "mem": guest.maxmem // 3 if running else 0, "maxdisk": guest.maxdisk,
           "disk": 0, "cpu": 0.03 if running else 0, "uptime": guest.uptime(), "netin": 0, "netout": 0,
           "diskread": 0, "diskwrite": 0}
    if guest.type == "lxc":
        out["type"] = "lxc"
        out["maxswap"] = int(guest.config.get("swap", 512)) * 1024 * 1024
    else:
        out["qmpstatus"] = guest.qmpstatus
        if running:
            out["pid"] = 10000 + guest.vmid
            out["running-qemu"] = "9.2.0"
            out["running-machine"] = "pc-i440fx-9.2+pve1"
    if guest.template:
        out["template"] = 1
    if guest.lock:
        out["lock"] = guest.lock
    if guest.config.get("tags"):
        out["tags"] = guest.config["tags"]
    return out


@both("GET", "")
def guest_list(req):
    st = req.state
    kind = kind_of(req.template)
    with st.lock:
        st.node(req.p("node"))
        return [list_entry(st, g) for g in sorted(st.guests.values(), key=lambda g: g.vmid)
                if g.node == req.p("node") and g.type == kind]


@both("GET", "/{vmid}")
def guest_index(req):
    with req.state.lock:
        get_guest(req)
    return [{"subdir": s} for s in ("config", "status", "snapshot", "firewall", "rrddata", "migrate")]


@both("GET", "/{vmid}/status")
def status_index(req):
    return [{"subdir": s} for s in ("current", "start", "stop", "shutdown", "reboot", "suspend", "resume")]


@both("GET", "/{vmid}/status/current")
def status_current(req):
    st = req.state
    with st.lock:
        guest = get_guest(req)
        out = list_entry(st, guest)
        res = st.ha_of(guest)
        out["ha"] = {"managed": 1 if res else 0}
        if res:
            out["ha"]["state"] = guest.hastate or res["state"]
        if guest.type == "qemu":
            out["agent"] = 1 if "enabled=1" in str(guest.config.get("agent", "")) or \
                str(guest.config.get("agent", "")) == "1" else 0
        return out


@both("GET", "/{vmid}/rrddata")
def guest_rrd(req):
    st = req.state
    with st.lock:
        guest = get_guest(req)
        maxima = {"maxcpu": guest.maxcpu, "maxmem": guest.maxmem, "maxdisk": guest.maxdisk}
        since = guest.started_at if guest.status == "running" else time.time() + 1
        load = list(guest.load)
    return metrics.series("guest", guest.vmid, req.p("timeframe"), maxima, running_since=since,
                          cf=req.p("cf") or "AVERAGE", load=load)


# -- create / restore ----------------------------------------------------------------
@both("POST", "")
def create(req):
    kind = kind_of(req.template)
    if kind == "qemu" and req.p("archive"):
        return restore(req, "qemu", req.p("archive"))
    if kind == "lxc" and str(req.p("restore", "0")) == "1":
        return restore(req, "lxc", req.p("ostemplate"))
    st = req.state
    node = req.p("node")
    vmid = int(req.p("vmid"))
    what = f"unable to create {label(kind)} {vmid}"
    with st.lock:
        st.node(node)
        st.check_vmid_unused(vmid, what)
        check_pool(st, req.p("pool"))
        config = {}
        params = dict(req.params)
        if kind == "lxc":
            tmpl = req.p("ostemplate")
            store, vol = st.find_volume(node, tmpl)
            if vol is None:
                raise die(f"volume '{tmpl}' does not exist")
            params.setdefault("rootfs", f"{req.p('storage') or 'local-lvm'}:4")
            params.setdefault("memory", 512)
            params.setdefault("swap", 512)
            params.setdefault("cores", 1)
            params.setdefault("unprivileged", 1)
            config["arch"] = "amd64"
            config["ostype"] = _ostype(tmpl)
        else:
            params.setdefault("memory", 2048)
            config["smbios1"] = f"uuid={uuid.uuid4()}"
            config["vmgenid"] = str(uuid.uuid4())
            config["meta"] = f"creation-qemu=9.2.0,ctime={int(time.time())}"
        to_alloc = apply_config_values(kind, config, params)
        check_storages_exist(st, node, to_alloc)
        config["lock"] = "create"
        guest = Guest(vmid, kind, node, config)
        st.guests[vmid] = guest
        add_to_pool(st, guest, req.p("pool"))
        start_after = str(req.p("start", "0")) == "1"
        ha_managed = str(req.p("ha-managed", "0")) == "1"

    def body(ctx):
        ctx.log(f"create {label(kind)} {vmid}")
        ctx.sleep(DURATIONS["qmcreate" if kind == "qemu" else "vzcreate"])
        with ctx.lock:
            allocate_disks(st, guest, to_alloc)
            if kind == "lxc":
                ctx.log(f"extracting archive '{req.p('ostemplate')}'")
            guest.config.pop("lock", None)
            if ha_managed:
                st.ha[st.ha_sid(guest)] = {"sid": st.ha_sid(guest), "type": st.ha_sid(guest).split(":")[0],
                                           "state": "started", "max_restart": 1, "max_relocate": 1, "failback": 1}
        if start_after and not ha_managed:
            do_start(ctx, guest)
        elif ha_managed:
            with ctx.lock:
                ha.converge(req.core, guest)

    def undo():
        st.remove_guest(guest)

    return start_task(req.core, req, node, "qmcreate" if kind == "qemu" else "vzcreate", vmid, body, undo)


def _ostype(tmpl):
    name = tmpl.split("/")[-1]
    for os_name in ("debian", "ubuntu", "centos", "fedora", "alpine", "archlinux", "almalinux", "rockylinux",
                    "opensuse", "devuan", "gentoo", "nixos"):
        if name.startswith(os_name) or f"-{os_name}-" in name:
            return os_name
    return "unmanaged"


# -- clone ------------------------------------------------------------------------------
@both("POST", "/{vmid}/clone")
def clone(req):
    st = req.state
    kind = kind_of(req.template)
    node = req.p("node")
    newid = int(req.p("newid"))
    with st.lock:
        src = get_guest(req)
        target = req.p("target") or node
        full = str(req.p("full", "0" if src.template else "1")) == "1"
        storage = req.p("storage")
        if not full:
            if storage is not None:
                raise die("parameter 'storage' not allowed for linked clones")
            if req.p("format") is not None:
                raise die("parameter 'format' not allowed for linked clones")
            if not src.template:
                raise die(f"linked clone feature for '{label(kind)} {src.vmid}' is only available for templates")
        src.check_lock()
        if req.p("snapname") and req.p("snapname") not in src.snapshots:
            raise die(f"snapshot '{req.p('snapname')}' does not exist")
        if newid in st.guests or newid in st.reserved_vmids:
            raise die(f"unable to create {label(kind)} {newid}: config file already exists")
        check_pool(st, req.p("pool"))
        if target != node:
            tnode = st.nodes.get(target)
            if tnode is None:
                raise die(f"no such cluster node '{target}'")
            if tnode.status != "online":
                raise die(f"target node '{target}' not online")
            for _, storeid, _, _ in src.disks():
                if not st.storage_cfg[storeid].get("shared"):
                    raise die(f"can't clone {label(kind)} to node '{target}' ({label(kind)} uses local storage)")
        if storage is not None:
            st.store(target, storage)
        base = src.snapshots[req.p("snapname")]["config"] if req.p("snapname") else src.config
        config = {k: v for k, v in base.items() if k not in ("template", "lock", "parent")}
        for key in list(config):
            if key.startswith("net") and key[3:].isdigit():
                config[key] = normalize_net(kind, config[key], new_mac=True)
        new_identity(config)
        if kind == "qemu" and req.p("name"):
            config["name"] = req.p("name")
        elif kind == "qemu":
            config["name"] = f"Copy-of-VM-{src.name}"
        if kind == "lxc" and req.p("hostname"):
            config["hostname"] = req.p("hostname")
        if req.p("description") is not None:
            config["description"] = req.p("description")
        disks = list(src.disks())
        for key, *_ in disks:
            config.pop(key, None)
        config["lock"] = "clone"
        guest = Guest(newid, kind, target, config)
        # Proxmox copies the source's firewall file with the guest (clone_vmfw_conf)
        guest.fw_rules = copy.deepcopy(src.fw_rules)
        guest.fw_options = copy.deepcopy(src.fw_options)
        guest.fw_ipsets = copy.deepcopy(src.fw_ipsets)
        st.guests[newid] = guest
        add_to_pool(st, guest, req.p("pool"))
        total = sum(size for *_, size in disks)

    def body(ctx):
        ctx.log(f"create {'full' if full else 'linked'} clone of drives from {label(kind)} {src.vmid}")
        ctx.sleep(DURATIONS["clone_per_gib"] * total / GIB if full else 1.0)
        with ctx.lock:
            if src.vmid not in st.guests:
                raise TaskError(f"Configuration file 'nodes/{node}/qemu-server/{src.vmid}.conf' does not exist")
            for key, storeid, volname, size in disks:
                value = src.config.get(key, "")
                opts = parse_disk(value)[2] if parse_disk(value) else {}
                target_store = storage or storeid
                if "cloudinit" in volname:
                    volid = st.alloc_disk(target, target_store, newid, size, kind,
                                          name=_cloudinit_name(st, target_store, newid))
                    guest.config[key] = f"{volid},media=cdrom"
                    continue
                volid = st.alloc_disk(target, target_store, newid, size, kind)
                extra = "".join(f",{k}={v}" for k, v in opts.items() if k != "size")
                guest.config[key] = f"{volid}{extra},size={format_size(size)}"
                ctx.log(f"drive {key}: {storeid}:{volname} -> {volid} ({format_size(size)})")
            guest.config.pop("lock", None)

    def undo():
        st.remove_guest(guest)

    return start_task(req.core, req, node, "qmclone" if kind == "qemu" else "vzclone", src.vmid, body, undo)


# -- config -----------------------------------------------------------------------------
@both("GET", "/{vmid}/config")
def config_get(req):
    st = req.state
    with st.lock:
        guest = get_guest(req)
        if req.p("snapshot"):
            snap = guest.snapshots.get(req.p("snapshot"))
            if snap is None:
                raise die(f"snapshot '{req.p('snapshot')}' does not exist")
            conf = public_config(guest, snap["config"])
        else:
            conf = public_config(guest)
        conf["digest"] = guest.digest()
        return conf


@both("GET", "/{vmid}/pending")
def pending(req):
    with req.state.lock:
        guest = get_guest(req)
        return [{"key": k, "value": v} for k, v in public_config(guest).items()]


def update_config(req, guest):
    """Apply a config change; call under the state lock. Returns disks to allocate."""
    st = req.state
    deletes = [d for d in str(req.p("delete") or "").replace(";", ",").split(",") if d]
    if "lock" not in deletes:
        guest.check_lock(skiplock(req))
    if req.p("digest") and req.p("digest") != guest.digest():
        raise die("detected modified configuration - file changed by other user? Try again.")
    params = {k: v for k, v in req.params.items() if k not in ("delete", "digest", "skiplock", "revert")}
    to_alloc = apply_config_values(guest.type, guest.config, params)
    check_storages_exist(st, guest.node, to_alloc)
    for key in deletes:
        value = guest.config.pop(key, None)
        if value is not None and parse_disk(value) and key != "lock":
            storeid, volname, _ = parse_disk(value)
            if "cloudinit" in volname:
                store = st.store(guest.node, storeid, required=False)
                if store:
                    store.remove(f"{storeid}:{volname}")
            else:
                idx = 0
                while f"unused{idx}" in guest.config:
                    idx += 1
                guest.config[f"unused{idx}"] = f"{storeid}:{volname}"
    return to_alloc


@both("PUT", "/{vmid}/config")
def config_put(req):
    st = req.state
    with st.lock:
        guest = get_guest(req)
        to_alloc = update_config(req, guest)
        try:
            allocate_disks(st, guest, to_alloc)
        except TaskError as exc:
            raise die(str(exc)) from exc
    return None


@route("POST", "/nodes/{node}/qemu/{vmid}/config")
def config_post(req):
    st = req.state
    with st.lock:
        guest = get_guest(req)
        to_alloc = update_config(req, guest)
        if not to_alloc:
            return None

    def body(ctx):
        ctx.sleep(DURATIONS["config"])
        with ctx.lock:
            allocate_disks(st, guest, to_alloc)

    return start_task(req.core, req, req.p("node"), "qmconfig", guest.vmid, body)


# -- resize / template / destroy ------------------------------------------------------------
@both("PUT", "/{vmid}/resize")
def resize(req):
    st = req.state
    with st.lock:
        guest = get_guest(req)

    def body(ctx):
        with ctx.lock:
            guest.check_lock(skiplock(req))
            current, new = parse_resize(guest, req.p("disk"), req.p("size"))
            storeid = parse_disk(guest.config[req.p("disk")])[0]
            store = st.store(guest.node, storeid)
            if store.used + (new - current) > store.total:
                raise TaskError(f"disk resize failed: storage '{storeid}' has insufficient free space")
        ctx.log(f"resize disk {req.p('disk')} from {format_size(current)} to {format_size(new)}")
        ctx.sleep(DURATIONS["resize"])
        with ctx.lock:
            st.set_disk_size(guest, req.p("disk"), new)

    return start_task(req.core, req, req.p("node"), "resize", guest.vmid, body)


@both("POST", "/{vmid}/template")
def template(req):
    st = req.state
    kind = kind_of(req.template)
    with st.lock:
        guest = get_guest(req)
        guest.check_lock()
        if guest.template:
            raise die(f"{label(kind)} {guest.vmid} is already a template")
        if guest.status == "running":
            raise die(f"you can't convert a {'VM' if kind == 'qemu' else 'CT'} to template if "
                      f"{'VM' if kind == 'qemu' else 'CT'} is running")
        if kind == "lxc":
            _make_template(st, guest)
            return None

    def body(ctx):
        ctx.sleep(DURATIONS["template"])
        with ctx.lock:
            guest.check_lock()
            _make_template(st, guest)

    return start_task(req.core, req, req.p("node"), "qmtemplate", guest.vmid, body)


def _make_template(st, guest):
    for key, storeid, volname, _size in list(guest.disks()):
        if "cloudinit" in volname or "-disk-" not in volname:
            continue
        newname = volname.replace(f"vm-{guest.vmid}-disk-", f"base-{guest.vmid}-disk-")
        store = st.store(guest.node, storeid)
        vol = store.remove(f"{storeid}:{volname}")
        if vol:
            vol["volid"] = f"{storeid}:{newname}"
            store.add(vol)
        guest.config[key] = guest.config[key].replace(volname, newname, 1)
    guest.config["template"] = 1


@both("DELETE", "/{vmid}")
def destroy(req):
    st = req.state
    kind = kind_of(req.template)
    with st.lock:
        guest = get_guest(req)
        guest.check_lock(skiplock(req))
        if str(guest.config.get("protection", "0")) == "1":
            raise die(f"can't remove {label(kind)} {guest.vmid} - protection mode enabled")
        if guest.status == "running":
            raise die(f"{label(kind)} {guest.vmid} is running - destroy failed")
        purge = str(req.p("purge", "0")) == "1"
        if st.ha_of(guest) and not purge:
            raise die(f"unable to remove {label(kind)} {guest.vmid} - used in HA resources and purge "
                      "parameter not set.")
        if kind == "lxc":
            guest.config["lock"] = "destroyed"

    def body(ctx):
        ctx.sleep(DURATIONS["destroy"])
        with ctx.lock:
            if purge:
                st.ha.pop(st.ha_sid(guest), None)
            st.remove_guest(guest)

    def undo():
        if kind == "lxc":
            guest.config.pop("lock", None)

    return start_task(req.core, req, req.p("node"), "qmdestroy" if kind == "qemu" else "vzdestroy",
                      guest.vmid, body, undo)

