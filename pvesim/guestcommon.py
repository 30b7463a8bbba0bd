"""Helpers shared by the guest route modules: config preparation, MACs, disks, locks."""

import base64
import hashlib
import os
import random
import re
import uuid
from urllib.parse import unquote

from .errors import ApiError, TaskError, die, param_error
from .router import route
from .util import GIB, format_size, is_disk_key, parse_disk, parse_size

# Parameters of create/clone/restore that are instructions, not config keys.
CONTROL_PARAMS = {"node", "vmid", "start", "pool", "archive", "storage", "force", "unique", "ha-managed",
                  "bwlimit", "live-restore", "restore", "ostemplate", "password", "ssh-public-keys",
                  "ignore-unpack-errors", "skiplock", "digest", "delete", "revert", "background_delay"}
NET_MODELS = ("virtio", "e1000", "e1000e", "rtl8139", "vmxnet3")
_KEY_RE = re.compile(r"^(ssh-(rsa|dss|ed25519)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/=]+( .*)?$")


def kind_of(template):
    return "qemu" if "/qemu" in template else "lxc"


def label(kind):
    return "VM" if kind == "qemu" else "CT"


def random_mac():
    # BC:24:11 is the Proxmox OUI that PVE uses for generated MACs
    return "BC:24:11:%02X:%02X:%02X" % (random.randint(0, 255), random.randint(0, 255), random.randint(0, 255))


def normalize_net(kind, value, new_mac=False):
    parts = str(value).split(",")
    if kind == "qemu":
        first = parts[0]
        if "=" in first and first.split("=", 1)[0] in NET_MODELS:
            model, mac = first.split("=", 1)
            parts[0] = f"{model}={random_mac() if new_mac else mac}"
        elif "=" not in first and first in NET_MODELS:
            parts[0] = f"{first}={random_mac()}"
        elif first.startswith("model="):
            parts[0] = f"{first.split('=', 1)[1]}={random_mac()}"
        return ",".join(parts)
    opts = [p for p in parts if p and not (new_mac and p.startswith("hwaddr="))]
    if not any(p.startswith("hwaddr=") for p in opts):
        opts.insert(1 if opts and opts[0].startswith("name=") else 0, f"hwaddr={random_mac()}")
    return ",".join(opts)


def check_sshkeys(value):
    keys = unquote(str(value))
    for line in keys.splitlines():
        if line.strip() and not _KEY_RE.match(line.strip()):
            raise die("SSH public key validation error")


WINDOWS_OSTYPES = {"wxp", "w2k", "w2k3", "w2k8", "wvista", "win7", "win8", "win10", "win11"}


def is_windows(ostype):
    return str(ostype or "") in WINDOWS_OSTYPES


def hash_password(value):
    if re.match(r"^\$(?:[156]|2[ay])(\$.+){2}", str(value)):
        return str(value)
    salt = base64.b64encode(os.urandom(12), altchars=b"./").decode()[:16]
    digest = base64.b64encode(hashlib.sha512((salt + str(value)).encode()).digest(), altchars=b"./").decode()
    return f"$6${salt}${digest.rstrip('=')}"


# Keys that PVE's config parser keeps as numbers in the JSON output. QEMU's `memory` is a
# property string since PVE 8.1, so it stays a string there but is a number for containers.
_NUMERIC_KEYS = {"cores", "sockets", "vcpus", "cpuunits", "balloon", "swap", "onboot", "protection", "template",
                 "unprivileged", "numa", "shares", "cpulimit"}


def public_config(guest, config=None):
    conf = dict(config if config is not None else guest.config)
    numeric = _NUMERIC_KEYS | ({"memory"} if guest.type == "lxc" else set())
    for key in numeric & conf.keys():
        if isinstance(conf[key], str) and conf[key].isdigit():
            conf[key] = int(conf[key])
    if "cipassword" in conf:
        conf["cipassword"] = "**********"
    if guest.parent and config is None:
        conf["parent"] = guest.parent
    return conf


def apply_config_values(kind, config, params, sync=True):
    """Copy config parameters into ``config``; disks of the form ``storage:SIZE`` are returned
    for allocation by the caller as (key, storage, size_bytes, opts)."""
    to_alloc = []
    for key, value in params.items():
        if key in CONTROL_PARAMS or value is None:
            continue
        if isinstance(value, bool):
            # a JSON true/false (``onboot``, ``protection``, ...) is stored as 1/0, as PVE writes it
            value = int(value)
        value = str(value) if not isinstance(value, list) else ",".join(map(str, value))
        if key.startswith("net") and key[3:].isdigit():
            value = normalize_net(kind, value)
        elif key == "sshkeys":
            check_sshkeys(value)
        elif key == "cipassword":
            # cloudbase-init on Windows cannot use a crypt hash, so a Windows guest keeps it as given.
            if not is_windows(params.get("ostype") or config.get("ostype")):
                value = hash_password(value)
        elif is_disk_key(kind, key):
            parsed = value.split(",")
            m = re.match(r"^([a-z][a-z0-9\-_.]*[a-z0-9]):(\d+(?:\.\d+)?|cloudinit)$", parsed[0], re.I)
            if m:
                opts = dict(p.split("=", 1) for p in parsed[1:] if "=" in p)
                to_alloc.append((key, m.group(1), m.group(2), opts))
                continue
        config[key] = value
    return to_alloc


def allocate_disks(state, guest, to_alloc):
    """Allocate pending disks (inside a task) and write them into the guest config."""
    for key, storeid, amount, opts in to_alloc:
        if amount == "cloudinit":
            volid = state.alloc_disk(guest.node, storeid, guest.vmid, 4 * 1024 ** 2, guest.type,
                                     name=_cloudinit_name(state, storeid, guest.vmid))
            guest.config[key] = f"{volid},media=cdrom"
            continue
        size = int(float(amount) * GIB)
        volid = state.alloc_disk(guest.node, storeid, guest.vmid, size, guest.type)
        extra = "".join(f",{k}={v}" for k, v in opts.items() if k != "size")
        guest.config[key] = f"{volid}{extra},size={format_size(size)}"


def _cloudinit_name(state, storeid, vmid):
    plugin = state.storage_cfg[storeid]["type"]
    if plugin in ("lvmthin", "lvm", "zfspool", "rbd"):
        return f"vm-{vmid}-cloudinit"
    return f"{vmid}/vm-{vmid}-cloudinit.qcow2"


def check_storages_exist(state, node, to_alloc):
    for _, storeid, _, _ in to_alloc:
        state.store(node, storeid)


def new_identity(config):
    if "smbios1" in config:
        config["smbios1"] = re.sub(r"uuid=[0-9a-f-]+", f"uuid={uuid.uuid4()}", config["smbios1"])
    if "vmgenid" in config:
        config["vmgenid"] = str(uuid.uuid4())


def disk_total(guest):
    return sum(size for *_, size in guest.disks())


def snapshot_capable(state, guest):
    for _, storeid, volname, _ in guest.disks():
        cfg = state.storage_cfg.get(storeid)
        if cfg is None:
            continue
        if cfg["type"] in ("lvmthin", "zfspool", "rbd"):
            continue
        if cfg["type"] in ("dir", "nfs", "cifs") and volname.endswith(".qcow2"):
            continue
        if "cloudinit" in volname:
            continue
        return False
    return True


def parse_resize(guest, key, size_text):
    if key not in guest.config:
        raise TaskError(f"disk '{key}' does not exist")
    parsed = parse_disk(guest.config[key])
    if parsed is None or parsed[2].get("media") == "cdrom":
        raise TaskError("you can't resize a cdrom")
    current = parse_size(parsed[2].get("size", "0")) or 0
    m = re.match(r"^(\+?)(\d+(?:\.\d+)?)([KMGT]?)$", size_text)
    if not m:
        raise TaskError(f"invalid size '{size_text}'")
    amount = parse_size(m.group(2) + m.group(3))
    new = current + amount if m.group(1) else amount
    if new < current:
        raise TaskError("shrinking disks is not supported")
    return current, new


# -- shared by the route modules (so they need not import each other) ----------------------
KINDS = ("qemu", "lxc")


def both(method, suffix):
    """Register one handler for the qemu and the lxc variant of a path."""
    def deco(fn):
        for kind in KINDS:
            route(method, f"/nodes/{{node}}/{kind}{suffix}")(fn)
        return fn
    return deco


def get_guest(req):
    return req.state.guest(req.p("node"), req.p("vmid"), kind_of(req.template))


def skiplock(req):
    if str(req.p("skiplock", "0")) == "1":
        if req.auth_user != "root@pam":
            raise param_error({"skiplock": "Only root may use this option."})
        return True
    return False


def check_pool(st, poolid):
    if poolid and poolid not in st.pools:
        raise ApiError(403, f"Permission check failed (pool '{poolid}' does not exist)")


def add_to_pool(st, guest, poolid):
    if poolid and poolid in st.pools:
        st.pools[poolid]["vms"].add(guest.vmid)
        guest.pool = poolid
