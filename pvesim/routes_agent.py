"""Guest IP discovery: the QEMU guest agent's network-get-interfaces and LXC interfaces."""

import re

from .errors import die
from .guestcommon import get_guest
from .router import route
from .util import parse_propstring


def _addresses(guest, index):
    """The guest's IPv4 address and prefix: the static one from its config, else a DHCP lease
    derived from the vmid so it stays stable across calls."""
    if guest.type == "qemu":
        ipconf = parse_propstring(guest.config.get(f"ipconfig{index}", "ip=dhcp"))
    else:
        ipconf = parse_propstring(guest.config.get(f"net{index}", ""))
    ip = ipconf.get("ip", "dhcp")
    m = re.match(r"^(\d+\.\d+\.\d+\.\d+)/(\d+)$", ip)
    if m:
        return m.group(1), int(m.group(2))
    return f"10.{(guest.vmid >> 16) & 255}.{(guest.vmid >> 8) & 255}.{guest.vmid & 255 or 1}", 24


def _mac(guest, value):
    if guest.type == "qemu":
        first = str(value).split(",")[0]
        return first.split("=", 1)[1].lower() if "=" in first else "bc:24:11:00:00:00"
    return parse_propstring(value).get("hwaddr", "bc:24:11:00:00:00").lower()


def _nets(guest):
    for key in sorted(guest.config):
        if key.startswith("net") and key[3:].isdigit():
            yield int(key[3:]), guest.config[key]


@route("GET", "/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces")
def agent_interfaces(req):
    with req.state.lock:
        guest = get_guest(req)
        agent = str(guest.config.get("agent", ""))
        if not (agent == "1" or "enabled=1" in agent):
            raise die("No QEMU guest agent configured")
        if guest.status != "running":
            raise die(f"VM {guest.vmid} is not running")
        result = [{"name": "lo", "hardware-address": "00:00:00:00:00:00", "ip-addresses": [
            {"ip-address-type": "ipv4", "ip-address": "127.0.0.1", "prefix": 8},
            {"ip-address-type": "ipv6", "ip-address": "::1", "prefix": 128}]}]
        for index, value in _nets(guest):
            ip, prefix = _addresses(guest, index)
            result.append({"name": f"eth{index}", "hardware-address": _mac(guest, value),
                           "ip-addresses": [{"ip-address-type": "ipv4", "ip-address": ip, "prefix": prefix}],
                           "statistics": {"rx-bytes": 0, "tx-bytes": 0, "rx-packets": 0, "tx-packets": 0,
                                          "rx-errs": 0, "tx-errs": 0, "rx-dropped": 0, "tx-dropped": 0}})
        return {"result": result}


@route("GET", "/nodes/{node}/lxc/{vmid}/interfaces")
def lxc_interfaces(req):
    with req.state.lock:
        guest = get_guest(req)
        if guest.status != "running":
            raise die(f"CT {guest.vmid} not running")
        out = [{"name": "lo", "hwaddr": "00:00:00:00:00:00", "inet": "127.0.0.1/8", "inet6": "::1/128"}]
        for index, value in _nets(guest):
            ip, prefix = _addresses(guest, index)
            name = parse_propstring(value).get("name", f"eth{index}")
            out.append({"name": name, "hwaddr": _mac(guest, value), "inet": f"{ip}/{prefix}"})
        return out
