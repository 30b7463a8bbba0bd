"""Parameter checks: the official schema when available, otherwise the simulator's own
checks for the parameters the portal uses (same error texts as PVE)."""

import importlib.util
import os
import re
import sys
import threading

_SCHEMAS = {}
_SCHEMA_LOCK = threading.Lock()

BOOLEAN_PARAMS = {
    "full", "start", "force", "restore", "unique", "online", "purge", "destroy-unreferenced-disks",
    "skiplock", "vmstate", "forceStop", "websocket", "generate-password", "keepActive",
    "overrule-shutdown", "onboot", "protection", "unprivileged", "ha-managed", "with-local-disks",
    "current", "remove", "protected", "all", "allow-move", "live-restore",
}
INTEGER_PARAMS = {"vmid", "newid", "memory", "cores", "sockets", "timeout", "pos", "moveto", "start_limit",
                  "limit", "max_restart", "max_relocate", "bwlimit", "swap", "cpuunits", "balloon"}
VMID_PARAMS = {"vmid", "newid"}

REQUIRED = {
    ("POST", "/nodes/{node}/qemu"): ["vmid"],
    ("POST", "/nodes/{node}/lxc"): ["vmid", "ostemplate"],
    ("POST", "/nodes/{node}/qemu/{vmid}/clone"): ["newid"],
    ("POST", "/nodes/{node}/lxc/{vmid}/clone"): ["newid"],
    ("POST", "/nodes/{node}/qemu/{vmid}/snapshot"): ["snapname"],
    ("POST", "/nodes/{node}/lxc/{vmid}/snapshot"): ["snapname"],
    ("POST", "/nodes/{node}/qemu/{vmid}/migrate"): ["target"],
    ("POST", "/nodes/{node}/lxc/{vmid}/migrate"): ["target"],
    ("PUT", "/nodes/{node}/qemu/{vmid}/resize"): ["disk", "size"],
    ("PUT", "/nodes/{node}/lxc/{vmid}/resize"): ["disk", "size"],
    ("POST", "/nodes/{node}/aplinfo"): ["storage", "template"],
    ("POST", "/cluster/ha/resources"): ["sid"],
    ("POST", "/pools"): ["poolid"],
    ("POST", "/access/ticket"): ["username", "password"],
    ("POST", "/nodes/{node}/qemu/{vmid}/firewall/rules"): ["action", "type"],
    ("POST", "/nodes/{node}/lxc/{vmid}/firewall/rules"): ["action", "type"],
    ("POST", "/cluster/firewall/groups"): ["group"],
    ("POST", "/cluster/firewall/groups/{group}"): ["action", "type"],
    ("POST", "/nodes/{node}/qemu/{vmid}/firewall/ipset"): ["name"],
    ("POST", "/nodes/{node}/lxc/{vmid}/firewall/ipset"): ["name"],
    ("POST", "/cluster/firewall/ipset"): ["name"],
    ("POST", "/nodes/{node}/qemu/{vmid}/firewall/ipset/{name}"): ["cidr"],
    ("POST", "/nodes/{node}/lxc/{vmid}/firewall/ipset/{name}"): ["cidr"],
    ("POST", "/cluster/firewall/ipset/{name}"): ["cidr"],
    ("POST", "/nodes/{node}/storage/{storage}/oci-registry-pull"): ["reference"],
    ("GET", "/nodes/{node}/rrddata"): ["timeframe"],
    ("GET", "/nodes/{node}/qemu/{vmid}/rrddata"): ["timeframe"],
    ("GET", "/nodes/{node}/lxc/{vmid}/rrddata"): ["timeframe"],
}
ENUMS = {
    ("GET", "/cluster/resources", "type"): ["vm", "storage", "node", "sdn"],
    ("GET", "/nodes/{node}/rrddata", "timeframe"): ["hour", "day", "week", "month", "year", "decade"],
    ("GET", "/nodes/{node}/rrddata", "cf"): ["AVERAGE", "MAX"],
    ("GET", "/nodes/{node}/qemu/{vmid}/rrddata", "cf"): ["AVERAGE", "MAX"],
    ("GET", "/nodes/{node}/lxc/{vmid}/rrddata", "cf"): ["AVERAGE", "MAX"],
    ("GET", "/nodes/{node}/qemu/{vmid}/rrddata", "timeframe"): ["hour", "day", "week", "month", "year", "decade"],
    ("GET", "/nodes/{node}/lxc/{vmid}/rrddata", "timeframe"): ["hour", "day", "week", "month", "year", "decade"],
    ("POST", "/nodes/{node}/vzdump", "mode"): ["snapshot", "suspend", "stop"],
    ("POST", "/nodes/{node}/vzdump", "compress"): ["0", "1", "gzip", "lzo", "zstd"],
}
_CONFIGID = re.compile(r"^[a-z][a-z0-9_-]+$", re.I)
_DNS = re.compile(r"^([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?\.)*[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?$")
_URLENC = re.compile(r"^[-%a-zA-Z0-9_.!~*'()]*$")


def load_schema(path):
    """Load pve_schema.py from beside apidata.json at run time (it is never copied here)."""
    path = os.path.abspath(path)
    with _SCHEMA_LOCK:
        if path not in _SCHEMAS:
            module_path = os.path.join(os.path.dirname(path), "pve_schema.py")
            spec = importlib.util.spec_from_file_location("pvesim_ext_pve_schema", module_path)
            module = importlib.util.module_from_spec(spec)
            # dataclasses look the module up in sys.modules while the class is built
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
            _SCHEMAS[path] = module.Schema(path)
        return _SCHEMAS[path]


def schema_errors(schema, method, template, path_params, params, encoding):
    ep = schema.find(method, template)
    if ep is None:
        return None
    errors = {}
    for k, v in params.items():
        if k in path_params and str(v) != str(path_params[k]):
            errors[k] = "duplicate parameter (already defined in URI) with conflicting values!"
    values = {k: v for k, v in params.items() if k not in errors}
    values.update(path_params)
    errors.update(schema.validate_endpoint(ep, values, encoding))
    return errors


def own_errors(method, template, path_params, params):
    errors = {}
    for k, v in params.items():
        if k in path_params and str(v) != str(path_params[k]):
            errors[k] = "duplicate parameter (already defined in URI) with conflicting values!"
    for name in REQUIRED.get((method, template), []):
        if name not in params:
            errors[name] = "property is missing and it is not optional"
    values = dict(params)
    values.update(path_params)
    for k, v in values.items():
        if k in errors:
            continue
        if isinstance(v, (list, dict)):
            typ = "boolean" if k in BOOLEAN_PARAMS else "integer" if k in INTEGER_PARAMS else "string"
            errors[k] = f"type check ('{typ}') failed - got {'ARRAY' if isinstance(v, list) else 'HASH'}"
            continue
        sv = "1" if v is True else "0" if v is False else str(v)
        if k in BOOLEAN_PARAMS and not (method == "PUT" and template == "/pools") and sv not in ("0", "1"):
            errors[k] = f"type check ('boolean') failed - got '{sv}'"
        elif k == "vmid" and template == "/nodes/{node}/vzdump":
            if not re.match(r"^\d+([,;\s]+\d+)*$", sv):
                errors[k] = "invalid format - value does not look like a valid VM ID"
        elif k in INTEGER_PARAMS and not re.match(r"^[+-]?\d+$", sv):
            errors[k] = f"type check ('integer') failed - got '{sv}'"
        elif k in VMID_PARAMS and int(sv) < 100:
            errors[k] = "value must have a minimum value of 100"
        elif k in VMID_PARAMS and int(sv) > 999999999:
            errors[k] = "value must have a maximum value of 999999999"
        elif k == "snapname" and method == "POST" and (not _CONFIGID.match(sv) or len(sv) > 40):
            errors[k] = ("value may only be 40 characters long" if len(sv) > 40
                         else f"invalid format - invalid configuration ID '{sv}'")
        elif k in ("name", "hostname") and ("/qemu" in template or "/lxc" in template) and not _DNS.match(sv):
            errors[k] = "invalid format - value does not look like a valid DNS name"
        elif k == "sshkeys" and not _URLENC.match(sv):
            errors[k] = f"invalid format - invalid urlencoded string: {sv}"
        enum = ENUMS.get((method, template, k))
        if enum and sv not in enum and k not in errors:
            errors[k] = f"value '{sv}' does not have a value in the enumeration '{', '.join(enum)}'"
    return errors
