"""Initial cluster layouts: the ``demo`` cluster, ``bulk:NODES:GUESTS`` and YAML/JSON files."""

import copy
import json
import os
import time

from .state import Guest, Node, State
from .util import GIB

TIB = 1024 * GIB

VZTMPLS = [
    ("debian-12-standard_12.7-1_amd64.tar.zst", 126 * 1024 ** 2),
    ("ubuntu-24.04-standard_24.04-2_amd64.tar.zst", 141 * 1024 ** 2),
    ("almalinux-9-default_20240911_amd64.tar.xz", 104 * 1024 ** 2),
]


def _apl(template, section, package, version, os_name, headline, sha512, location):
    return {"template": template, "package": package, "version": version, "type": "lxc", "os": os_name,
            "section": section, "headline": headline, "description": headline,
            "infopage": "https://www.turnkeylinux.org/" + package.split("-", 2)[-1]
            if section == "turnkeylinux" else "https://linuxcontainers.org",
            "location": location, "source": location, "architecture": "amd64",
            "maintainer": "Proxmox Support Team <support@proxmox.com>"
            if section == "system" else "Anton Pyrogovskyi <anton@turnkeylinux.org>",
            "sha512sum": sha512, "manageurl": "https://__IPADDRESS__/" if section == "turnkeylinux" else None}


def _fake_sha512(seed):
    import hashlib
    return hashlib.sha512(seed.encode()).hexdigest()


APLINFO = [
    _apl("debian-12-turnkey-nextcloud_18.1-1_amd64.tar.gz", "turnkeylinux", "turnkey-nextcloud", "18.1-1",
         "debian-12", "TurnKey Nextcloud: All-in-one storage, collaboration and communication",
         _fake_sha512("turnkey-nextcloud"),
         "http://mirror.turnkeylinux.org/turnkeylinux/images/proxmox/debian-12-turnkey-nextcloud_18.1-1_amd64.tar.gz"),
    _apl("debian-12-turnkey-wordpress_18.2-1_amd64.tar.gz", "turnkeylinux", "turnkey-wordpress", "18.2-1",
         "debian-12", "TurnKey WordPress: Blog Publishing Platform", _fake_sha512("turnkey-wordpress"),
         "http://mirror.turnkeylinux.org/turnkeylinux/images/proxmox/debian-12-turnkey-wordpress_18.2-1_amd64.tar.gz"),
    _apl("debian-12-standard_12.7-1_amd64.tar.zst", "system", "debian-12-standard", "12.7-1", "debian-12",
         "Debian 12 Bookworm (standard)", _fake_sha512("debian-12"),
         "http://download.proxmox.com/images/system/debian-12-standard_12.7-1_amd64.tar.zst"),
    _apl("ubuntu-24.04-standard_24.04-2_amd64.tar.zst", "system", "ubuntu-24.04-standard", "24.04-2",
         "ubuntu-24.04", "Ubuntu 24.04 Noble (standard)", _fake_sha512("ubuntu-24.04"),
         "http://download.proxmox.com/images/system/ubuntu-24.04-standard_24.04-2_amd64.tar.zst"),
    _apl("almalinux-9-default_20240911_amd64.tar.xz", "system", "almalinux-9-default", "20240911",
         "almalinux-9", "LXC default image for almalinux 9 (20240911)", _fake_sha512("alma-9"),
         "http://download.proxmox.com/images/system/almalinux-9-default_20240911_amd64.tar.xz"),
    _apl("alpine-3.22-default_20250617_amd64.tar.xz", "system", "alpine-3.22-default", "20250617",
         "alpine-3.22", "LXC default image for alpine 3.22 (20250617)", _fake_sha512("alpine-3.22"),
         "http://download.proxmox.com/images/system/alpine-3.22-default_20250617_amd64.tar.xz"),
]
for _entry in APLINFO:
    if _entry["manageurl"] is None:
        del _entry["manageurl"]


def _cloud_template(vmid, name, mac):
    return {
        "vmid": vmid, "type": "qemu", "node": "pve", "status": "stopped",
        "config": {
            "name": name, "template": 1, "memory": 2048, "cores": 2, "sockets": 1, "ostype": "l26",
            "scsihw": "virtio-scsi-single", "boot": "order=scsi0", "agent": "enabled=1",
            "scsi0": f"templates:{vmid}/base-{vmid}-disk-0.qcow2,size=3G",
            "ide2": f"templates:{vmid}/vm-{vmid}-cloudinit.qcow2,media=cdrom,size=4M",
            "net0": f"virtio={mac},bridge=vmbr0", "serial0": "socket", "vga": "serial0",
            "ciuser": "debian" if "debian" in name else "ubuntu", "ipconfig0": "ip=dhcp",
            "smbios1": "uuid=6f1c2a44-3b0e-4f43-9e1d-2a7d2b9d0c%02d" % (vmid % 100),
            "vmgenid": "0f3c1b9a-7d4e-4c2b-9a8e-1b2c3d4e5f%02d" % (vmid % 100),
            "meta": "creation-qemu=9.2.0,ctime=1735689600",
        },
    }


def _windows_template(vmid, name, mac):
    """A Windows Server template prepared with cloudbase-init, as JIKU would build it once."""
    template = _cloud_template(vmid, name, mac)
    config = template["config"]
    config.update({"ostype": "win11", "memory": 4096, "ciuser": "Administrator", "citype": "configdrive2",
                   "bios": "ovmf", "machine": "pc-q35-9.2", "vga": "std",
                   "scsi0": f"templates:{vmid}/base-{vmid}-disk-0.qcow2,size=32G"})
    config.pop("serial0", None)
    return template


DEMO = {
    "cluster_name": "pve-cluster",
    "nodes": [{"name": n, "cpus": 32, "memory_gib": 128, "disk_gib": 100} for n in ("pve", "pve2", "pve3")],
    "storages": [
        {"storage": "local", "type": "dir", "content": "vztmpl,iso,backup", "size_gib": 1024,
         "path": "/var/lib/vz"},
        {"storage": "local-lvm", "type": "lvmthin", "content": "images,rootdir", "size_gib": 8192},
        {"storage": "backup", "type": "nfs", "content": "backup", "size_gib": 4096, "shared": 1,
         "path": "/mnt/pve/backup"},
        {"storage": "templates", "type": "nfs", "content": "images,rootdir", "size_gib": 512, "shared": 1,
         "path": "/mnt/pve/templates"},
    ],
    "vztmpl": [{"name": n, "size": s} for n, s in VZTMPLS],
    "aplinfo": APLINFO,
    "guests": [_cloud_template(9000, "debian-12-cloud", "BC:24:11:00:90:00"),
               _cloud_template(9001, "ubuntu-2404-cloud", "BC:24:11:00:90:01"),
               _windows_template(9002, "windows-2022-cloudbase", "BC:24:11:00:90:02")],
    "pools": [],
    "ha": [],
}


def load_layout(scenario):
    if isinstance(scenario, dict):
        return copy.deepcopy(scenario)
    if scenario in (None, "demo"):
        return copy.deepcopy(DEMO)
    if isinstance(scenario, str) and scenario.startswith("bulk:"):
        return bulk_layout(*[int(x) for x in scenario.split(":")[1:3]])
    if isinstance(scenario, (str, os.PathLike)) and os.path.exists(scenario):
        with open(scenario, encoding="utf-8") as fh:
            text = fh.read()
        if str(scenario).endswith(".json"):
            return json.loads(text)
        import yaml
        return yaml.safe_load(text)
    raise ValueError(f"unknown scenario {scenario!r}: use 'demo', 'bulk:N:M', a dict or a YAML/JSON file")


def bulk_layout(nodes, guests):
    layout = copy.deepcopy(DEMO)
    layout["guests"] = []
    layout["nodes"] = [{"name": f"node{i + 1:02d}", "cpus": 64, "memory_gib": 1024, "disk_gib": 200}
                       for i in range(nodes)]
    for s in layout["storages"]:
        s["size_gib"] *= 16
    names = [n["name"] for n in layout["nodes"]]
    for i in range(guests):
        vmid = 1000 + i
        kind = "qemu" if i % 3 else "lxc"
        config = {"name" if kind == "qemu" else "hostname": f"guest-{vmid}", "memory": 1024, "cores": 1}
        if kind == "qemu":
            config.update({"scsi0": f"local-lvm:vm-{vmid}-disk-0,size=10G",
                           "net0": "virtio=BC:24:11:%02X:%02X:%02X,bridge=vmbr0" % (
                               (vmid >> 16) & 255, (vmid >> 8) & 255, vmid & 255)})
        else:
            config.update({"rootfs": f"local-lvm:vm-{vmid}-disk-0,size=8G", "ostype": "debian",
                           "net0": "name=eth0,bridge=vmbr0,ip=dhcp"})
        layout["guests"].append({"vmid": vmid, "type": kind, "node": names[i % len(names)],
                                 "status": "running", "config": config})
    return layout


def build_state(scenario):
    layout = load_layout(scenario)
    state = State()
    state.cluster_name = layout.get("cluster_name", "pvesim")
    for n in layout.get("nodes", []):
        node = Node(n["name"], n.get("cpus", 32), int(n.get("memory_gib", 128) * GIB),
                    int(n.get("disk_gib", 100) * GIB), n.get("ip"))
        state.nodes[node.name] = node
    # corosync config_version of the initial cluster; every simulated join adds one
    state.config_version = len(state.nodes) + 2
    for s in layout.get("storages", []):
        cfg = {"storage": s["storage"], "type": s.get("type", "dir"),
               "content": set(str(s.get("content", "images")).split(",")),
               "shared": 1 if s.get("shared") else 0, "total": int(s.get("size_gib", 100) * GIB),
               "nodes": s.get("nodes"), "path": s.get("path")}
        state.add_storage(cfg)
    now = int(time.time()) - 86400 * 30
    for t in layout.get("vztmpl", []):
        for store in _vztmpl_stores(state, t):
            name = t["name"]
            store.add({"volid": f"{store.id}:vztmpl/{name}", "content": "vztmpl",
                       "format": template_format(name), "size": int(t.get("size", 100 * 1024 ** 2)), "ctime": now})
    for iso in layout.get("iso", []):
        for node in state.nodes:
            store = state.store(node, iso.get("storage", "local"))
            store.volumes.setdefault(f"{store.id}:iso/{iso['name']}", {
                "volid": f"{store.id}:iso/{iso['name']}", "content": "iso", "format": "iso",
                "size": int(iso.get("size", 600 * 1024 ** 2)), "ctime": now})
    state.aplinfo = layout.get("aplinfo", [])
    for g in layout.get("guests", []):
        config = {k: v for k, v in g.get("config", {}).items()}
        guest = Guest(g["vmid"], g.get("type", "qemu"), g["node"], config, g.get("status", "stopped"))
        state.guests[guest.vmid] = guest
        state.register_guest_volumes(guest)
    for p in layout.get("pools", []):
        state.pools[p["poolid"]] = {"comment": p.get("comment"), "vms": set(), "storage": set()}
        for vmid in p.get("vms", []):
            state.pools[p["poolid"]]["vms"].add(int(vmid))
            state.guests[int(vmid)].pool = p["poolid"]
    for h in layout.get("ha", []):
        sid = h["sid"]
        state.ha[sid] = {"sid": sid, "type": sid.split(":")[0], "state": h.get("state", "started"),
                         "max_restart": h.get("max_restart", 1), "max_relocate": h.get("max_relocate", 1),
                         "failback": h.get("failback", 1)}
        guest = state.guests.get(int(sid.split(":")[1]))
        if guest:
            guest.hastate = "started" if guest.status == "running" else "stopped"
    return state


def _vztmpl_stores(state, t):
    if t.get("storage"):
        cfg = state.storage_cfg[t["storage"]]
        if cfg.get("shared"):
            return [state.stores[cfg["storage"]]]
        return [state.stores[(n, cfg["storage"])] for n in state.nodes if (n, cfg["storage"]) in state.stores]
    return [state.stores[(n, "local")] for n in state.nodes if (n, "local") in state.stores]


def template_format(name):
    for ext, fmt in ((".tar.zst", "tzst"), (".tar.xz", "txz"), (".tar.gz", "tgz"), (".tgz", "tgz"),
                     (".tar.bz2", "tbz2"), (".tar", "tar")):
        if name.endswith(ext):
            return fmt
    return "raw"
