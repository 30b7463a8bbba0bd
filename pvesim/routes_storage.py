"""Storages, their content, vzdump backups, restores, template downloads and OCI pulls."""

import copy
import re
import time

from .errors import ApiError, TaskError, die, param_error
from .guestcommon import _cloudinit_name, add_to_pool, check_pool, disk_total, label, normalize_net
from .metrics import TIMEFRAMES
from .registry import RegistryError, parse_reference
from .router import route
from .routes_power import do_start
from .scenario import template_format
from .state import Guest
from .tasks import DURATIONS, start_task
from .util import GIB, format_size

COMPRESS_EXT = {"0": "", "1": ".lzo", "lzo": ".lzo", "gzip": ".gz", "zstd": ".zst"}
_BACKUP_RE = re.compile(r"vzdump-(qemu|lxc)-(\d+)-(\d{4})_(\d\d)_(\d\d)-(\d\d)_(\d\d)_(\d\d)\.(vma|tar)(\.zst|\.gz|\.lzo)?$")


def _storage_status(st, store, node):
    cfg = store.cfg
    return {"storage": cfg["storage"], "type": cfg["type"], "content": ",".join(sorted(cfg["content"])),
            "shared": 1 if cfg.get("shared") else 0, "active": 1, "enabled": 1,
            "total": store.total, "used": store.used, "avail": store.total - store.used,
            "used_fraction": round(store.used / store.total, 6) if store.total else 0}


@route("GET", "/storage")
def storage_config(req):
    with req.state.lock:
        out = []
        for cfg in req.state.storage_cfg.values():
            entry = {"storage": cfg["storage"], "type": cfg["type"], "content": ",".join(sorted(cfg["content"])),
                     "shared": 1 if cfg.get("shared") else 0, "digest": "0" * 40}
            if cfg.get("path"):
                entry["path"] = cfg["path"]
            if cfg["type"] == "lvmthin":
                entry.update({"vgname": "pve", "thinpool": "data"})
            if cfg.get("nodes"):
                entry["nodes"] = ",".join(cfg["nodes"])
            out.append(entry)
        return out


@route("GET", "/nodes/{node}/storage")
def storage_list(req):
    st = req.state
    node = req.p("node")
    with st.lock:
        out = []
        for store in st.stores_on(node):
            if req.p("storage") and store.id != req.p("storage"):
                continue
            if req.p("content") and not set(str(req.p("content")).split(",")) & store.cfg["content"]:
                continue
            out.append(_storage_status(st, store, node))
        return out


@route("GET", "/nodes/{node}/storage/{storage}")
def storage_index(req):
    return [{"subdir": s} for s in ("content", "status", "rrddata", "download-url", "oci-registry-pull")]


@route("GET", "/nodes/{node}/storage/{storage}/status")
def storage_status(req):
    with req.state.lock:
        store = req.state.store(req.p("node"), req.p("storage"))
        return _storage_status(req.state, store, req.p("node"))


def _content_entry(vol):
    return {k: v for k, v in vol.items() if not k.startswith("_")}


@route("GET", "/nodes/{node}/storage/{storage}/content")
def content_list(req):
    with req.state.lock:
        store = req.state.store(req.p("node"), req.p("storage"))
        content = req.p("content")
        vmid = req.p("vmid")
        out = []
        for vol in store.volumes.values():
            if content and vol["content"] != content:
                continue
            if vmid is not None and str(vol.get("vmid")) != str(vmid):
                continue
            out.append(_content_entry(vol))
        return out


@route("GET", "/nodes/{node}/storage/{storage}/content/{volume}")
def content_get(req):
    with req.state.lock:
        vol = _volume(req)
        out = {"path": f"/var/lib/vz/{vol['volid'].split(':', 1)[1]}", "size": vol["size"],
               "used": vol.get("used", vol["size"]), "format": vol["format"]}
        if vol.get("notes") is not None:
            out["notes"] = vol["notes"]
        if vol.get("protected"):
            out["protected"] = 1
        return out


def _volume(req):
    store = req.state.store(req.p("node"), req.p("storage"))
    volid = req.p("volume")
    if ":" not in volid:
        volid = f"{store.id}:{volid}"
    vol = store.volumes.get(volid)
    if vol is None:
        raise die(f"volume '{volid}' does not exist")
    return vol


@route("PUT", "/nodes/{node}/storage/{storage}/content/{volume}")
def content_put(req):
    with req.state.lock:
        vol = _volume(req)
        if req.p("notes") is not None:
            vol["notes"] = req.p("notes")
        if req.p("protected") is not None:
            vol["protected"] = int(req.p("protected"))
    return None


@route("DELETE", "/nodes/{node}/storage/{storage}/content/{volume}")
def content_delete(req):
    st = req.state
    with st.lock:
        vol = _volume(req)
        store = st.store(req.p("node"), req.p("storage"))
        if vol.get("protected"):
            raise die(f"cannot delete protected backup '{vol['volid']}'")
        if vol["content"] in ("images", "rootdir"):
            owner = st.guests.get(vol.get("vmid"))
            if owner is not None and any(f"{s}:{n}" == vol["volid"] for _, s, n, _ in owner.disks()):
                raise die(f"unable to delete '{vol['volid']}' - volume is still in use (guest {owner.vmid})")

    def body(ctx):
        ctx.sleep(0.2)
        with ctx.lock:
            store.remove(vol["volid"])

    return start_task(req.core, req, req.p("node"), "imgdel", vol["volid"].split("/")[-1], body)


# -- vzdump -----------------------------------------------------------------------------------
@route("POST", "/nodes/{node}/vzdump")
def vzdump(req):
    st = req.state
    node = req.p("node")
    backup_all = str(req.p("all", "0")) == "1"
    with st.lock:
        vmids = _included_vmids(st, req, node, backup_all)
        # "silent exit if specified VMs run on other nodes" (PVE/API2/VZDump.pm): no task at all
        if not vmids and not backup_all:
            return "OK"
        storeid = req.p("storage", "local")
        store = st.store(node, storeid)
        if "backup" not in store.cfg["content"]:
            raise die(f"can't use storage '{storeid}' for backups - wrong content type")
    compress = str(req.p("compress", "0"))
    mode = req.p("mode", "snapshot")
    notes_tmpl = req.p("notes-template")
    protected = str(req.p("protected", "0")) == "1"
    remove = str(req.p("remove", "1")) == "1"
    prune = req.p("prune-backups")

    def body(ctx):
        errors = 0
        for vmid in vmids:
            with ctx.lock:
                guest = st.guests.get(vmid)
                try:
                    _claim_for_backup(guest, vmid, node)
                except ApiError as exc:
                    ctx.log(f"ERROR: Backup of VM {vmid} failed - {exc.message}")
                    errors += 1
                    continue
                guest.config["lock"] = "backup"
                used = max(GIB // 4, int(disk_total(guest) * 0.3))
                size = int(used * (0.45 if compress != "0" else 1.0))
            try:
                ctx.log(f"Starting Backup of VM {vmid} ({guest.type})")
                ctx.log(f"Backup started at {time.strftime('%Y-%m-%d %H:%M:%S')}")
                ctx.log(f"Backup mode: {mode}")
                ctx.sleep(DURATIONS["vzdump_per_gib"] * used / GIB)
                with ctx.lock:
                    if store.used + size > store.total:
                        raise TaskError("vma_queue_write: write error - No space left on device")
                    volid = _backup_volid(store, guest, compress)
                    notes = _notes(notes_tmpl, guest, node, st.cluster_name)
                    vol = {"volid": volid, "content": "backup", "format": _backup_format(volid), "size": size,
                           "ctime": int(time.time()), "vmid": vmid, "subtype": guest.type,
                           "_config": copy.deepcopy(guest.config), "_disks": list(guest.disks())}
                    vol["_config"].pop("lock", None)
                    if notes is not None:
                        vol["notes"] = notes
                    if protected:
                        vol["protected"] = 1
                    store.add(vol)
                    _prune(store, vmid, prune, remove)
                ctx.log(f"creating vzdump archive '{volid}'")
                ctx.log(f"Finished Backup of VM {vmid}")
            except TaskError as exc:
                ctx.log(f"ERROR: Backup of VM {vmid} failed - {exc}")
                errors += 1
            finally:
                with ctx.lock:
                    if guest.config.get("lock") == "backup":
                        guest.config.pop("lock", None)
        if errors:
            raise TaskError("job errors")

    tid = str(vmids[0]) if len(vmids) == 1 else ""
    return start_task(req.core, req, node, "vzdump", tid, body)


def _included_vmids(st, req, node, backup_all):
    """The guests this node backs up, as PVE::VZDump::get_included_guests with the API's
    ``node``: local guests plus ids that exist nowhere (kept so that they fail visibly in the
    task); guests on other nodes are dropped without a trace."""
    if backup_all and req.p("vmid"):
        raise param_error({"all": "option conflicts with option 'vmid'"})
    if req.p("pool") and req.p("vmid"):
        raise param_error({"pool": "option conflicts with option 'vmid'"})
    if req.p("pool"):
        if req.p("pool") not in st.pools:
            raise die(f"pool '{req.p('pool')}' does not exist")
        wanted = [v for v in st.pools[req.p("pool")]["vms"] if v in st.guests]
    elif req.p("vmid"):
        wanted = [int(v) for v in re.split(r"[,;\s]+", str(req.p("vmid"))) if v]
    elif backup_all:
        wanted = list(st.guests)
    else:
        raise param_error({"vmid": "property is missing"})
    return [v for v in sorted(wanted) if v and (v not in st.guests or st.guests[v].node == node)]


def _claim_for_backup(guest, vmid, node):
    """The checks before a guest's backup starts; raises with the text the task log shows."""
    if guest is None:
        raise die(f"unable to find VM '{vmid}'")
    if guest.node != node:
        # it migrated away after the job started; the local config is gone
        sub = "qemu-server" if guest.type == "qemu" else "lxc"
        raise die(f"Configuration file 'nodes/{node}/{sub}/{vmid}.conf' does not exist")
    guest.check_lock()


def _backup_volid(store, guest, compress):
    ext = ("vma" if guest.type == "qemu" else "tar") + COMPRESS_EXT.get(compress, ".zst")
    stamp = time.time()
    while True:
        name = f"vzdump-{guest.type}-{guest.vmid}-{time.strftime('%Y_%m_%d-%H_%M_%S', time.localtime(stamp))}.{ext}"
        volid = f"{store.id}:backup/{name}"
        if volid not in store.volumes:
            return volid
        stamp += 1


def _backup_format(volid):
    m = _BACKUP_RE.search(volid)
    return m.group(9) + (m.group(10) or "") if m else "raw"


def _notes(tmpl, guest, node, cluster):
    if tmpl is None:
        return None
    return (tmpl.replace("{{guestname}}", guest.name).replace("{{vmid}}", str(guest.vmid))
            .replace("{{node}}", node).replace("{{cluster}}", cluster)).replace("\\n", "\n")


def _prune(store, vmid, prune, remove):
    if not prune or not remove:
        return
    m = re.search(r"keep-last=(\d+)", str(prune))
    if not m:
        return
    keep = int(m.group(1))
    backups = [v for v in store.volumes.values()
               if v["content"] == "backup" and v.get("vmid") == vmid and not v.get("protected")]
    backups.sort(key=lambda v: v["ctime"])
    for vol in backups[:-keep] if keep else backups:
        store.remove(vol["volid"])


# -- restore ------------------------------------------------------------------------------------
def restore(req, kind, archive):
    st = req.state
    node = req.p("node")
    vmid = int(req.p("vmid"))
    force = str(req.p("force", "0")) == "1"
    with st.lock:
        st.node(node)
        check_pool(st, req.p("pool"))
        store, vol = st.find_volume(node, archive)
        if vol is None:
            raise die(f"volume '{archive}' does not exist")
        if vol.get("content") != "backup" or vol.get("subtype") not in (None, kind):
            raise die(f"unable to restore {label(kind)} {vmid} - archive is not a {kind} backup")
        existing = st.guests.get(vmid)
        if existing is not None:
            if not force:
                st.check_vmid_unused(vmid, f"unable to restore {label(kind)} {vmid}")
            if existing.node != node or existing.type != kind:
                raise die(f"unable to restore {label(kind)} {vmid} - {label(existing.type)} {vmid} already "
                          f"exists on node '{existing.node}'")
            if str(existing.config.get("protection", "0")) == "1":
                raise die(f"unable to restore {label(kind)} {vmid} - protection mode enabled")
            if existing.status == "running":
                raise die("can't overwrite running container" if kind == "lxc"
                          else f"unable to restore VM {vmid} - VM is running")
            existing.check_lock()
            existing.config["lock"] = "create"
            guest = existing
        else:
            guest = Guest(vmid, kind, node, {"lock": "create"})
            st.guests[vmid] = guest
        add_to_pool(st, guest, req.p("pool"))
        target_storage = req.p("storage")
        for _, storeid, _, _ in vol.get("_disks", []):
            st.store(node, target_storage or storeid)
    unique = str(req.p("unique", "0")) == "1"
    start_after = str(req.p("start", "0")) == "1"
    total = sum(size for *_, size in vol.get("_disks", [])) or vol["size"]

    def body(ctx):
        ctx.log(f"restore vma archive: {archive}" if kind == "qemu" else f"extracting archive '{archive}'")
        ctx.sleep(DURATIONS["restore_per_gib"] * total / GIB)
        with ctx.lock:
            if guest is existing:
                st.free_guest_volumes(guest)
                guest.snapshots.clear()
                guest.parent = None
            config = copy.deepcopy(vol.get("_config") or {"memory": 512})
            for key, storeid, volname, size in vol.get("_disks", []):
                dest = target_storage or storeid
                if "cloudinit" in volname:
                    newvol = st.alloc_disk(node, dest, vmid, size, kind, name=_cloudinit_name(st, dest, vmid))
                    config[key] = f"{newvol},media=cdrom"
                    continue
                newvol = st.alloc_disk(node, dest, vmid, size, kind)
                opts = [p for p in str(config.get(key, "")).split(",")[1:] if not p.startswith("size=")]
                config[key] = ",".join([newvol] + opts + [f"size={format_size(size)}"])
            if unique:
                for key in list(config):
                    if key.startswith("net") and key[3:].isdigit():
                        config[key] = normalize_net(kind, config[key], new_mac=True)
            config.pop("template", None) if kind == "lxc" else None
            guest.config = config
            guest.status, guest.qmpstatus, guest.started_at = "stopped", "stopped", None
        if start_after:
            do_start(ctx, guest)

    def undo():
        if guest is existing:
            guest.config.pop("lock", None)
        else:
            st.remove_guest(guest)

    return start_task(req.core, req, node, "qmrestore" if kind == "qemu" else "vzrestore", vmid, body, undo)


# -- downloads --------------------------------------------------------------------------------------
def download_template(req, store, name, size, url):

    def body(ctx):
        ctx.log(f"downloading {url} to {store.cfg.get('path') or '/var/lib/vz'}/template/cache/{name}")
        ctx.sleep(DURATIONS["download"])
        with ctx.lock:
            if store.used + size > store.total:
                raise TaskError(f"write failed: No space left on device ({name})")
            volid = f"{store.id}:vztmpl/{name}"
            store.remove(volid)
            store.add({"volid": volid, "content": "vztmpl", "format": template_format(name), "size": size,
                       "ctime": int(time.time())})
        ctx.log("download of template finished")

    return start_task(req.core, req, req.p("node"), "download", name, body)


@route("POST", "/nodes/{node}/storage/{storage}/download-url")
def download_url(req):
    st = req.state
    content = req.p("content")
    with st.lock:
        store = st.store(req.p("node"), req.p("storage"))
        if content not in store.cfg["content"]:
            raise die(f"storage '{store.id}' does not support '{content}' content")
    name = req.p("filename")
    if content == "vztmpl":
        return download_template(req, store, name, 150 * 1024 ** 2, req.p("url"))
    size = 700 * 1024 ** 2

    def body(ctx):
        ctx.log(f"downloading {req.p('url')} to {name}")
        ctx.sleep(DURATIONS["download"])
        with ctx.lock:
            if store.used + size > store.total:
                raise TaskError("write failed: No space left on device")
            volid = f"{store.id}:{content}/{name}"
            store.remove(volid)
            store.add({"volid": volid, "content": content, "format": name.rsplit(".", 1)[-1], "size": size,
                       "ctime": int(time.time())})

    return start_task(req.core, req, req.p("node"), "download", name, body)


@route("POST", "/nodes/{node}/storage/{storage}/oci-registry-pull")
def oci_pull(req):
    st = req.state
    reference = req.p("reference")
    with st.lock:
        store = st.store(req.p("node"), req.p("storage"))
        if "vztmpl" not in store.cfg["content"]:
            raise die(f"storage '{store.id}' does not support templates")
    filename = req.p("filename")
    if not filename:
        image = reference.rsplit("/", 1)[-1]
        filename = image.replace(":", "_")
    if not filename.endswith(".tar"):
        filename += ".tar"
    # the simulated registry answers for every registry host
    host, repo, tag = parse_reference(reference)
    registry = req.core.registry

    def body(ctx):
        ctx.log(f"Pulling image '{reference}'")
        try:
            image = registry.manifest(repo, tag)
        except RegistryError as exc:
            raise TaskError(f"failed to pull OCI image '{host}/{repo}:{tag}': {exc.message}") from None
        ctx.log(f"Digest: {image.digest}")
        ctx.sleep(DURATIONS["oci_pull"])
        with ctx.lock:
            if store.used + image.size > store.total:
                raise TaskError("write failed: No space left on device")
            volid = f"{store.id}:vztmpl/{filename}"
            store.remove(volid)
            store.add({"volid": volid, "content": "vztmpl", "format": "tar", "size": image.size,
                       "ctime": int(time.time())})
        ctx.log(f"stored as {store.id}:vztmpl/{filename}")

    return start_task(req.core, req, req.p("node"), "download", filename, body)


@route("GET", "/nodes/{node}/storage/{storage}/rrddata")
def storage_rrd(req):
    with req.state.lock:
        store = req.state.store(req.p("node"), req.p("storage"))
        step, points = TIMEFRAMES[req.p("timeframe")]
        end = int(time.time()) // step * step
        return [{"time": end - (points - 1 - i) * step, "total": store.total, "used": store.used}
                for i in range(points)]
