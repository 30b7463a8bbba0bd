"""Small helpers shared by the route modules."""

import hashlib
import json
import re

GIB = 1024 ** 3
_SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)([KMGT]?)$")
_UNITS = {"": 1, "K": 1024, "M": 1024 ** 2, "G": GIB, "T": 1024 ** 4}

QEMU_DISK_RE = re.compile(r"^(scsi|sata|ide|virtio|efidisk|tpmstate|unused)\d+$")
LXC_DISK_RE = re.compile(r"^(rootfs|mp\d+|unused\d+)$")


def parse_size(text):
    m = _SIZE_RE.match(str(text).strip())
    if not m:
        return None
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def format_size(nbytes):
    for unit in ("T", "G", "M", "K"):
        if nbytes % _UNITS[unit] == 0 and nbytes >= _UNITS[unit]:
            return f"{nbytes // _UNITS[unit]}{unit}"
    return str(nbytes)


def parse_propstring(value, default_key=None):
    """Split ``a=b,c=d`` into a dict; a bare first item goes under ``default_key``."""
    out = {}
    for part in str(value).split(","):
        if not part:
            continue
        if "=" in part:
            k, v = part.split("=", 1)
            out[k] = v
        elif default_key and default_key not in out:
            out[default_key] = part
    return out


def parse_disk(value):
    """Return (storage, volname, opts) for a disk config value, or None for cdrom/none."""
    parts = str(value).split(",")
    vol = parts[0]
    opts = parse_propstring(",".join(parts[1:]))
    if "=" in vol:
        opts.update(parse_propstring(vol))
        vol = opts.get("file", opts.get("volume", ""))
    if vol in ("", "none", "cdrom") or ":" not in vol:
        return None
    storage, volname = vol.split(":", 1)
    return storage, volname, opts


def is_disk_key(kind, key):
    return bool((QEMU_DISK_RE if kind == "qemu" else LXC_DISK_RE).match(key))


def config_digest(config):
    return hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()


def as_bool(value):
    return str(value) in ("1", "True", "true", "on", "yes")


def wire(value):
    """Render Python values the way Perl's JSON encoder shows them: booleans as 0/1."""
    if isinstance(value, bool):
        return 1 if value else 0
    if isinstance(value, dict):
        return {k: wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [wire(v) for v in value]
    return value
