"""The cluster model. Every read and write happens under ``State.lock``."""

import itertools
import random
import threading
import time
from collections import OrderedDict

from .errors import ApiError, TaskError, die
from .util import GIB, config_digest, format_size, is_disk_key, parse_disk, parse_size


class Node:
    def __init__(self, name, cpus=32, memory=128 * GIB, disk=100 * GIB, ip=None):
        self.name = name
        self.status = "online"
        self.maxcpu = cpus
        self.maxmem = memory
        self.maxdisk = disk
        self.ip = ip
        self.boot_time = time.time() - random.randint(86400, 30 * 86400)
        self.load = []  # load events for the RRD curves (metrics.py), added through /_sim/load


class Store:
    """One storage as seen from one node; shared storages have one Store for all nodes."""

    def __init__(self, cfg, node=None):
        self.cfg = cfg
        self.node = node
        self.volumes = OrderedDict()
        self.used = 0

    @property
    def id(self):
        return self.cfg["storage"]

    @property
    def total(self):
        return self.cfg["total"]

    def add(self, vol):
        self.volumes[vol["volid"]] = vol
        self.used += vol.get("size", 0)

    def remove(self, volid):
        vol = self.volumes.pop(volid, None)
        if vol:
            self.used -= vol.get("size", 0)
        return vol


class Guest:
    def __init__(self, vmid, kind, node, config, status="stopped"):
        self.vmid = int(vmid)
        self.type = kind
        self.node = node
        self.config = config
        self.status = status
        self.qmpstatus = status
        self.started_at = time.time() if status == "running" else None
        self.snapshots = OrderedDict()
        self.parent = None
        self.pool = None
        self.fw_rules = []
        self.fw_options = {}
        self.fw_ipsets = OrderedDict()
        self.hastate = None
        self.load = []  # load events for the RRD curves (metrics.py), added through /_sim/load

    @property
    def label(self):
        return "VM" if self.type == "qemu" else "CT"

    @property
    def name(self):
        return self.config.get("name") or self.config.get("hostname") or f"{self.label}{self.vmid}"

    @property
    def lock(self):
        return self.config.get("lock")

    @property
    def template(self):
        return 1 if str(self.config.get("template", "0")) == "1" else 0

    @property
    def maxmem(self):
        return int(self.config.get("memory", 512)) * 1024 * 1024

    @property
    def maxcpu(self):
        return int(self.config.get("cores", 1)) * int(self.config.get("sockets", 1))

    def disks(self):
        """Yield (key, storage, volname, size_bytes) for the guest's volumes."""
        for key, value in list(self.config.items()):
            if not is_disk_key(self.type, key):
                continue
            parsed = parse_disk(value)
            if not parsed or parsed[2].get("media") == "cdrom" and "cloudinit" not in parsed[1]:
                continue
            storage, volname, opts = parsed
            yield key, storage, volname, parse_size(opts.get("size", "0")) or 0

    @property
    def maxdisk(self):
        for key, _, _, size in self.disks():
            if key in ("rootfs", "scsi0", "virtio0", "sata0", "ide0"):
                return size
        return sum(size for *_, size in self.disks())

    def digest(self):
        return config_digest(self.config)

    def check_lock(self, skiplock=False):
        if self.lock and not skiplock:
            raise die(f"{self.label} is locked ({self.lock})")

    def uptime(self):
        return int(time.time() - self.started_at) if self.status == "running" and self.started_at else 0


class Task:
    def __init__(self, upid, node, ttype, tid, user, tokenid, pid, pstart, starttime):
        self.upid = upid
        self.node = node
        self.type = ttype
        self.id = tid
        self.user = user
        self.tokenid = tokenid
        self.pid = pid
        self.pstart = pstart
        self.starttime = starttime
        self.status = "running"
        self.exitstatus = None
        self.endtime = None
        self.lines = []
        self.forced_error = None
        self.stop_requested = False

    def status_dict(self):
        out = {"upid": self.upid, "node": self.node, "pid": self.pid, "pstart": self.pstart,
               "starttime": self.starttime, "type": self.type, "id": self.id, "user": self.user,
               "status": self.status}
        if self.tokenid:
            out["tokenid"] = self.tokenid
        if self.status == "stopped":
            out["exitstatus"] = self.exitstatus
        return out

    def list_entry(self):
        out = {"upid": self.upid, "node": self.node, "pid": self.pid, "pstart": self.pstart,
               "starttime": self.starttime, "type": self.type, "id": self.id,
               "user": self.user + (f"!{self.tokenid}" if self.tokenid else "")}
        if self.status == "stopped":
            out["endtime"] = self.endtime
            out["status"] = self.exitstatus
        return out


class State:
    def __init__(self):
        self.lock = threading.RLock()
        self.aborted = threading.Event()
        self.nodes = OrderedDict()
        self.storage_cfg = OrderedDict()
        self.stores = {}
        self.guests = {}
        self.tasks = OrderedDict()
        self.running_tasks = 0
        self.pending_timers = 0
        self.pools = OrderedDict()
        self.ha = OrderedDict()
        self.fw_groups = OrderedDict()   # cluster security groups: name -> {comment, rules}
        self.fw_ipsets = OrderedDict()   # cluster IP sets: name -> {comment, entries}
        self.aplinfo = []
        self.reserved_vmids = set()
        self._pid = itertools.count(random.randint(0x10000, 0x80000))
        self.cluster_name = "pvesim"
        self.config_version = 1  # corosync's config_version, shown in /cluster/status

    # -- nodes ---------------------------------------------------------------
    def node(self, name):
        node = self.nodes.get(name)
        if node is None:
            raise die(f"hostname lookup '{name}' failed - failed to get address info for: {name}: "
                      "Name or service not known")
        return node

    def online_nodes(self):
        return [n for n in self.nodes.values() if n.status == "online"]

    def add_node(self, node):
        """Register a node that joins later: it gets empty copies of the per-node storages it
        is not excluded from by a ``nodes`` list, and sees the shared ones through their Store."""
        self.nodes[node.name] = node
        for cfg in self.storage_cfg.values():
            if not cfg.get("shared") and self._storage_on_node(cfg, node.name):
                if "images" in cfg["content"] and getattr(node, "guest_storage_total", None):
                    # its own disk holds the guests' volumes: a bigger server, a bigger local-lvm
                    cfg = dict(cfg, total=node.guest_storage_total)
                self.stores[(node.name, cfg["storage"])] = Store(cfg, node.name)

    # -- storage -------------------------------------------------------------
    def add_storage(self, cfg):
        self.storage_cfg[cfg["storage"]] = cfg
        if cfg.get("shared"):
            self.stores[cfg["storage"]] = Store(cfg)
        else:
            for node in self.nodes:
                if self._storage_on_node(cfg, node):
                    self.stores[(node, cfg["storage"])] = Store(cfg, node)

    @staticmethod
    def _storage_on_node(cfg, node):
        return not cfg.get("nodes") or node in cfg["nodes"]

    def store(self, node, storeid, required=True):
        cfg = self.storage_cfg.get(storeid)
        if cfg is None or not self._storage_on_node(cfg, node):
            if not required:
                return None
            raise die(f"storage '{storeid}' does not exist")
        return self.stores[storeid] if cfg.get("shared") else self.stores[(node, storeid)]

    def stores_on(self, node):
        for cfg in self.storage_cfg.values():
            if self._storage_on_node(cfg, node):
                yield self.store(node, cfg["storage"])

    def find_volume(self, node, volid):
        storeid = volid.split(":", 1)[0]
        store = self.store(node, storeid)
        return store, store.volumes.get(volid)

    def alloc_disk(self, node, storeid, vmid, size, kind="qemu", name=None, check_space=True):
        """Allocate a guest volume and return ``storeid:volname`` (size is bytes)."""
        store = self.store(node, storeid)
        content = store.cfg["content"]
        need = "images" if kind == "qemu" else "rootdir"
        if need not in content:
            what = "vm images" if kind == "qemu" else "container directories"
            raise TaskError(f"storage '{storeid}' does not support {what}")
        plugin = store.cfg["type"]
        if name is None:
            n = 0
            while True:
                name = self._volname(plugin, vmid, f"disk-{n}", kind)
                if f"{storeid}:{name}" not in store.volumes:
                    break
                n += 1
        volid = f"{storeid}:{name}"
        if check_space and store.used + size > store.total:
            if plugin == "lvmthin":
                raise TaskError(f"lvcreate 'pve/{name}' error:   Volume group \"pve\" has insufficient free "
                                f"space ({(store.total - store.used) // (4 * 1024 ** 2)} extents): "
                                f"{size // (4 * 1024 ** 2)} required.")
            raise TaskError(f"unable to create image: qemu-img: {name}: Could not create "
                            "'{name}': No space left on device")
        fmt = "raw" if plugin in ("lvmthin", "lvm", "zfspool", "rbd") else ("qcow2" if kind == "qemu" else "raw")
        store.add({"volid": volid, "content": "images" if kind == "qemu" else "rootdir", "format": fmt,
                   "size": size, "used": int(size * 0.3), "vmid": int(vmid), "ctime": int(time.time())})
        return volid

    @staticmethod
    def _volname(plugin, vmid, suffix, kind):
        if plugin in ("lvmthin", "lvm", "zfspool", "rbd"):
            return f"vm-{vmid}-{suffix}"
        ext = "qcow2" if kind == "qemu" else "raw"
        return f"{vmid}/vm-{vmid}-{suffix}.{ext}"

    def free_guest_volumes(self, guest):
        for _, storeid, volname, _ in guest.disks():
            store = self.store(guest.node, storeid, required=False)
            if store:
                store.remove(f"{storeid}:{volname}")
        for snap in guest.snapshots.values():
            snap.pop("_state_size", None)

    def register_guest_volumes(self, guest):
        for _, storeid, volname, size in guest.disks():
            store = self.store(guest.node, storeid, required=False)
            if store is not None and f"{storeid}:{volname}" not in store.volumes:
                store.add({"volid": f"{storeid}:{volname}",
                           "content": "images" if guest.type == "qemu" else "rootdir",
                           "format": "qcow2" if volname.endswith(".qcow2") else "raw",
                           "size": size, "used": int(size * 0.3), "vmid": guest.vmid,
                           "ctime": int(time.time())})

    def set_disk_size(self, guest, key, size):
        storeid, volname, opts = parse_disk(guest.config[key])
        store = self.store(guest.node, storeid)
        vol = store.volumes.get(f"{storeid}:{volname}")
        if vol is not None:
            store.used += size - vol["size"]
            vol["size"] = size
        opts["size"] = format_size(size)
        guest.config[key] = f"{storeid}:{volname}," + ",".join(f"{k}={v}" for k, v in opts.items())

    # -- guests --------------------------------------------------------------
    def guest(self, node, vmid, kind=None):
        guest = self.guests.get(int(vmid))
        if guest is None or guest.node != node or (kind and guest.type != kind):
            sub = "qemu-server" if (kind or "qemu") == "qemu" else "lxc"
            raise die(f"Configuration file 'nodes/{node}/{sub}/{vmid}.conf' does not exist")
        return guest

    def check_vmid_unused(self, vmid, what):
        existing = self.guests.get(int(vmid))
        if existing is not None:
            kind = "VM" if existing.type == "qemu" else "CT"
            raise die(f"{what} - {kind} {vmid} already exists on node '{existing.node}'")
        if int(vmid) in self.reserved_vmids:
            raise die(f"{what} - VM {vmid} already exists")

    def next_vmid(self):
        vmid = 100
        while vmid in self.guests or vmid in self.reserved_vmids:
            vmid += 1
        return vmid

    def next_pid(self):
        return next(self._pid)

    def mem_used_on(self, node):
        return sum(g.maxmem for g in self.guests.values() if g.node == node and g.status == "running")

    def ha_sid(self, guest):
        return f"{'vm' if guest.type == 'qemu' else 'ct'}:{guest.vmid}"

    def ha_of(self, guest):
        return self.ha.get(self.ha_sid(guest))

    def remove_guest(self, guest):
        self.free_guest_volumes(guest)
        self.guests.pop(guest.vmid, None)
        for pool in self.pools.values():
            pool["vms"].discard(guest.vmid)

    def require_running(self, guest):
        if guest.status != "running":
            raise die(f"{guest.label} {guest.vmid} not running")

    def assert_not_aborted(self):
        if self.aborted.is_set():
            raise TaskAborted()

    def cluster_resources(self, rtype=None):
        out = []
        if rtype in (None, "node"):
            # one pass over the guests instead of one per node keeps this O(nodes + guests)
            usage = {}
            for g in self.guests.values():
                if g.status == "running":
                    mem, count = usage.get(g.node, (0, 0))
                    usage[g.node] = (mem + g.maxmem, count + 1)
            for node in self.nodes.values():
                out.append(node_entry(self, node, usage.get(node.name, (0, 0))))
        if rtype in (None, "vm"):
            for guest in sorted(self.guests.values(), key=lambda g: g.vmid):
                out.append(guest_resource(self, guest))
        if rtype in (None, "storage"):
            for node in self.nodes:
                for store in self.stores_on(node):
                    out.append(storage_entry(store, node, self.nodes[node].status == "online"))
        if rtype is None:
            for poolid in self.pools:
                out.append({"id": f"/pool/{poolid}", "type": "pool", "pool": poolid})
        return out


class TaskAborted(Exception):
    """The state was reset or the simulator stopped while a task ran."""


def node_entry(state, node, usage=None):
    online = node.status == "online"
    if usage is None:
        usage = (state.mem_used_on(node.name),
                 sum(1 for g in state.guests.values() if g.node == node.name and g.status == "running"))
    mem = usage[0] + 2 * GIB if online else 0
    running = usage[1]
    out = {"id": f"node/{node.name}", "type": "node", "node": node.name, "status": node.status,
           "maxcpu": node.maxcpu, "maxmem": node.maxmem, "maxdisk": node.maxdisk, "level": "",
           "cgroup-mode": 2}
    if online:
        out.update({"cpu": round(min(0.95, 0.02 + running * 0.01), 4), "mem": mem,
                    "disk": int(node.maxdisk * 0.12), "uptime": int(time.time() - node.boot_time)})
    return out


def guest_resource(state, guest):
    online = state.nodes[guest.node].status == "online"
    out = {"id": f"{guest.type}/{guest.vmid}", "type": guest.type, "vmid": guest.vmid,
           "node": guest.node, "status": guest.status if online else "unknown"}
    if online:
        running = guest.status == "running"
        out.update({"name": guest.name, "template": guest.template, "maxcpu": guest.maxcpu,
                    "maxmem": guest.maxmem, "maxdisk": guest.maxdisk, "uptime": guest.uptime(),
                    "cpu": 0.03 if running else 0, "mem": guest.maxmem // 3 if running else 0,
                    "disk": 0 if guest.type == "qemu" else guest.maxdisk // 4,
                    "netin": 0, "netout": 0, "diskread": 0, "diskwrite": 0})
    else:
        out["name"] = guest.name
    if guest.lock:
        out["lock"] = guest.lock
    if guest.config.get("tags"):
        out["tags"] = guest.config["tags"]
    if guest.pool:
        out["pool"] = guest.pool
    if guest.hastate:
        out["hastate"] = guest.hastate
    return out


def storage_entry(store, node, online=True):
    cfg = store.cfg
    out = {"id": f"storage/{node}/{cfg['storage']}", "type": "storage", "storage": cfg["storage"],
           "node": node, "plugintype": cfg["type"], "status": "available" if online else "unknown",
           "shared": 1 if cfg.get("shared") else 0, "content": ",".join(sorted(cfg["content"]))}
    if online:
        out.update({"disk": store.used, "maxdisk": store.total})
    return out


def find_snapshot(guest, name):
    snap = guest.snapshots.get(name)
    if snap is None:
        raise die(f"snapshot '{name}' does not exist")
    return snap


def volid_size(state, node, volid):
    store, vol = state.find_volume(node, volid)
    if vol is None:
        raise ApiError(500, f"volume '{volid}' does not exist")
    return vol
