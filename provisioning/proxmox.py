"""The portal's only door to Proxmox VE: verbs in our words over proxmoxer.

Everything Proxmox answers badly becomes one ProxmoxError carrying Proxmox's own message and
whether trying again can help. Booleans go out as 0/1 and `sshkeys` percent-encoded, as the
API insists (see shared/pve-api/FACTS.md sections 1 and 6).
"""

import functools
import hashlib
import logging
import re
import ssl
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

import requests
from django.conf import settings
from proxmoxer import ProxmoxAPI, ResourceException
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

log = logging.getLogger(__name__)

TIMEOUT = 15
# Messages that describe a passing condition: another task holds the guest, a file lock timed
# out, the API proxy could not reach a node, pveproxy was restarting.
TRANSIENT_PATTERNS = re.compile(
    r"got timeout|is locked|can't lock file|timeout|temporarily|try again|connection refused|"
    r"no route to host|proxy handler|errors during connection establishment|too many",
    re.IGNORECASE,
)


class ProxmoxError(Exception):
    def __init__(self, message, *, status=None, retryable=False, errors=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.retryable = retryable
        self.errors = errors or {}

    def __str__(self):
        return self.message


def _split_address(api_url):
    url = api_url if "://" in api_url else f"https://{api_url}"
    parts = urlsplit(url)
    return parts.hostname, parts.port or 8006


def _verify_for(cluster):
    if not cluster.verify_tls:
        return False
    if not cluster.ca_cert.strip():
        return True
    digest = hashlib.sha256(cluster.ca_cert.encode()).hexdigest()[:16]
    path = Path(settings.VAR_DIR) / "ca" / f"{digest}.pem"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(cluster.ca_cert)
    return str(path)


def _wire(params):
    """Proxmox takes booleans only as 0/1 and rejects keys it does not know, so drop None."""
    out = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = int(value) if isinstance(value, bool) else value
    return out


def _translate(exc):
    if isinstance(exc, ResourceException):
        status = exc.status_code
        message = (exc.content or exc.status_message or "").strip()
        errors = exc.errors if isinstance(exc.errors, dict) else None
        if errors:
            message = f"{message}: " + "; ".join(f"{k}: {v}" for k, v in errors.items())
        retryable = status >= 502 or (status == 500 and bool(TRANSIENT_PATTERNS.search(message)))
        return ProxmoxError(message or f"HTTP {status}", status=status, retryable=retryable, errors=errors)
    if isinstance(exc, requests.exceptions.SSLError):
        return ProxmoxError(f"TLS verification failed: {exc}", retryable=False)
    if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
        return ProxmoxError("Proxmox is unreachable: connection failed or timed out", retryable=True)
    return ProxmoxError(f"{exc.__class__.__name__}: {exc}", retryable=False)


# The console websocket's handshake carries the token: its library logger never logs at debug.
_ws_log = logging.getLogger("provisioning.proxmox.console")
_ws_log.setLevel(logging.INFO)


def _ssl_context(cluster):
    """The same TLS rule as every API call (_verify_for), for the console's websocket."""
    return _ssl_context_for(_verify_for(cluster))


@functools.lru_cache(maxsize=32)
def _ssl_context_for(verify):
    # One context per CA file: loading the trust store for every console would cost time and memory.
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=None if verify is True else verify)


class ConsoleSocket:
    """An open console websocket to Proxmox: bytes in, bytes out, None once it has ended."""

    def __init__(self, connection):
        self._ws = connection

    async def send(self, data):
        try:
            await self._ws.send(data)
        except ConnectionClosed as exc:
            raise ProxmoxError("Proxmox closed the console connection", retryable=True) from exc

    async def recv(self):
        try:
            message = await self._ws.recv()
        except ConnectionClosed:
            return None
        return message.encode() if isinstance(message, str) else message

    async def close(self):
        await self._ws.close()


def _rules_path(node, kind, vmid, group):
    return f"cluster/firewall/groups/{group}" if group else f"nodes/{node}/{kind}/{vmid}/firewall/rules"


def _ipset_path(node, kind, vmid):
    return f"nodes/{node}/{kind}/{vmid}/firewall/ipset" if vmid else "cluster/firewall/ipset"


class PVE:
    """One cluster's API. Cheap to build; proxmoxer keeps a requests session inside."""

    def __init__(self, cluster):
        host, port = _split_address(cluster.api_url)
        user, _sep, token_name = cluster.token_id.partition("!")
        self.cluster = cluster
        self._api = ProxmoxAPI(
            host,
            port=port,
            user=user,
            token_name=token_name,
            token_value=cluster.token_secret,
            verify_ssl=_verify_for(cluster),
            timeout=TIMEOUT,
        )

    def _call(self, method, path, **params):
        try:
            return getattr(self._api(path), method)(**_wire(params))
        except Exception as exc:  # noqa: BLE001 - every failure is translated into one type
            raise _translate(exc) from exc

    # --- reading -------------------------------------------------------------------------
    def version(self):
        return self._call("get", "version")

    def nodes(self):
        return self._call("get", "nodes")

    def permissions(self, path=None):
        """The token's effective privileges: {acl path: {privilege: 1}} (GET /access/permissions)."""
        # `path` is also _call's own argument name, so this one call goes around it.
        try:
            return self._api("access/permissions").get(**_wire({"path": path}))
        except Exception as exc:  # noqa: BLE001
            raise _translate(exc) from exc

    def node_rrddata(self, node, timeframe="hour", cf="AVERAGE"):
        return self._call("get", f"nodes/{node}/rrddata", timeframe=timeframe, cf=cf)

    def resources(self):
        return self._call("get", "cluster/resources")

    def locate(self, vmid):
        """The node a guest is on now (HA may have moved it since reconcile), or None if no node has it."""
        for entry in self._call("get", "cluster/resources", type="vm"):
            if entry.get("vmid") == vmid:
                return entry.get("node")
        return None

    def vmid_is_free(self, vmid):
        try:
            self._call("get", "cluster/nextid", vmid=vmid)
            return True
        except ProxmoxError as exc:
            if exc.status == 400:
                return False
            raise

    def guest_status(self, node, kind, vmid):
        """status/current of a guest, or None when Proxmox has no such guest on that node."""
        try:
            return self._call("get", f"nodes/{node}/{kind}/{vmid}/status/current")
        except ProxmoxError as exc:
            if exc.status == 500 and "does not exist" in exc.message:
                return None
            raise

    def task_status(self, node, upid):
        return self._call("get", f"nodes/{node}/tasks/{upid}/status")

    def task_log_tail(self, node, upid, lines=20):
        entries = self._call("get", f"nodes/{node}/tasks/{upid}/log", start=0, limit=500)
        return "\n".join(e.get("t", "") for e in entries[-lines:])

    def rrddata(self, node, kind, vmid, timeframe="hour", cf="AVERAGE"):
        """One timeframe's archive: cf=AVERAGE for the lines, cf=MAX for the peaks."""
        return self._call("get", f"nodes/{node}/{kind}/{vmid}/rrddata", timeframe=timeframe, cf=cf)

    # --- building -------------------------------------------------------------------------
    def clone_vm(self, *, node, template_vmid, newid, name, target, storage):
        return self._call(
            "post",
            f"nodes/{node}/qemu/{template_vmid}/clone",
            newid=newid,
            name=name,
            target=target,
            storage=storage,
            full=True,
        )

    def configure_vm(self, *, node, vmid, ssh_keys=None, **config):
        if ssh_keys:
            # Proxmox wants the value itself percent-encoded (%20, not +); proxmoxer then
            # form-encodes it once more, which the server undoes (FACTS.md section 6).
            config["sshkeys"] = quote(ssh_keys, safe="")
        return self._call("put", f"nodes/{node}/qemu/{vmid}/config", **config)

    def configure_ct(self, *, node, vmid, **config):
        return self._call("put", f"nodes/{node}/lxc/{vmid}/config", **config)

    def create_ct(self, *, node, vmid, ostemplate, hostname, cores, memory, rootfs, net0, password, ssh_keys, pool=None,
                  onboot=False):
        return self._call(
            "post",
            f"nodes/{node}/lxc",
            vmid=vmid,
            ostemplate=ostemplate,
            hostname=hostname,
            cores=cores,
            memory=memory,
            rootfs=rootfs,
            net0=net0,
            password=password or None,
            **{"ssh-public-keys": ssh_keys or None},
            unprivileged=True,
            pool=pool,
            onboot=onboot or None,
        )

    def resize_disk(self, *, node, kind, vmid, disk, size_gb):
        return self._call("put", f"nodes/{node}/{kind}/{vmid}/resize", disk=disk, size=f"{size_gb}G")

    def power(self, *, node, kind, vmid, action):
        return self._call("post", f"nodes/{node}/{kind}/{vmid}/status/{action}")

    def destroy(self, *, node, kind, vmid):
        return self._call("delete", f"nodes/{node}/{kind}/{vmid}", purge=True, **{"destroy-unreferenced-disks": True})

    # --- snapshots ------------------------------------------------------------------------
    def snapshot_create(self, *, node, kind, vmid, name, description="", include_ram=False):
        params = {"snapname": name, "description": description or None}
        if kind == "qemu":
            params["vmstate"] = include_ram
        return self._call("post", f"nodes/{node}/{kind}/{vmid}/snapshot", **params)

    def snapshot_rollback(self, *, node, kind, vmid, name, start=False):
        return self._call("post", f"nodes/{node}/{kind}/{vmid}/snapshot/{name}/rollback", start=start or None)

    def snapshot_delete(self, *, node, kind, vmid, name):
        return self._call("delete", f"nodes/{node}/{kind}/{vmid}/snapshot/{name}")

    def snapshots(self, *, node, kind, vmid):
        return self._call("get", f"nodes/{node}/{kind}/{vmid}/snapshot")

    # --- backups --------------------------------------------------------------------------
    def vzdump(self, *, node, vmid, storage, mode="snapshot", notes="", protected=False):
        return self._call(
            "post",
            f"nodes/{node}/vzdump",
            vmid=str(vmid),
            storage=storage,
            mode=mode,
            compress="zstd",
            protected=protected or None,
            **{"notes-template": notes or None},
        )

    def backups(self, *, node, storage, vmid=None):
        return self._call("get", f"nodes/{node}/storage/{storage}/content", content="backup", vmid=vmid)

    def volume_delete(self, *, node, storage, volid):
        return self._call("delete", f"nodes/{node}/storage/{storage}/content/{volid}")

    def volume_protect(self, *, node, storage, volid, protected):
        return self._call("put", f"nodes/{node}/storage/{storage}/content/{volid}", protected=protected)

    def restore(self, *, node, kind, vmid, volid, storage, force=False, unique=False):
        if kind == "qemu":
            return self._call(
                "post", f"nodes/{node}/qemu", vmid=vmid, archive=volid, storage=storage, force=force or None,
                unique=unique or None,
            )
        return self._call(
            "post", f"nodes/{node}/lxc", vmid=vmid, ostemplate=volid, restore=True, storage=storage,
            force=force or None, unique=unique or None,
        )

    # --- high availability and moves ----------------------------------------------------------
    def ha_add(self, *, kind, vmid, state):
        sid = f"{'vm' if kind == 'qemu' else 'ct'}:{vmid}"
        return self._call("post", "cluster/ha/resources", sid=sid, state=state, max_restart=1, max_relocate=1)

    def ha_set_state(self, *, kind, vmid, state):
        sid = f"{'vm' if kind == 'qemu' else 'ct'}:{vmid}"
        return self._call("put", f"cluster/ha/resources/{sid}", state=state)

    def ha_remove(self, *, kind, vmid):
        sid = f"{'vm' if kind == 'qemu' else 'ct'}:{vmid}"
        return self._call("delete", f"cluster/ha/resources/{sid}")

    def migrate(self, *, node, kind, vmid, target, running):
        if kind == "qemu":
            return self._call("post", f"nodes/{node}/qemu/{vmid}/migrate", target=target, online=running or None)
        return self._call("post", f"nodes/{node}/lxc/{vmid}/migrate", target=target, restart=running or None)

    def clone_guest(self, *, node, kind, vmid, newid, hostname, target, storage):
        """A full copy of a customer's guest (staging), not of a template."""
        name_key = "name" if kind == "qemu" else "hostname"
        return self._call(
            "post", f"nodes/{node}/{kind}/{vmid}/clone", newid=newid, target=target, storage=storage, full=True,
            **{name_key: hostname},
        )

    # --- marketplace ----------------------------------------------------------------------
    # --- firewall (FACTS.md section 12, with pve-firewall's real rule order) -------------------
    def firewall_options(self, *, node, kind, vmid):
        return self._call("get", f"nodes/{node}/{kind}/{vmid}/firewall/options")

    def firewall_options_set(self, *, node, kind, vmid, enable, policy_in, policy_out):
        return self._call("put", f"nodes/{node}/{kind}/{vmid}/firewall/options", enable=enable,
                          policy_in=policy_in, policy_out=policy_out)

    def firewall_rules(self, *, node=None, kind=None, vmid=None, group=None):
        """A guest's rules, or a security group's (group=...), ordered by position."""
        return self._call("get", _rules_path(node, kind, vmid, group))

    def firewall_rule_insert_top(self, *, rule, node=None, kind=None, vmid=None, group=None):
        """Proxmox puts every new rule at position 0 and ignores `pos` on create."""
        return self._call("post", _rules_path(node, kind, vmid, group), **rule)

    def firewall_rule_delete(self, *, pos, node=None, kind=None, vmid=None, group=None, digest=None):
        return self._call("delete", f"{_rules_path(node, kind, vmid, group)}/{pos}", digest=digest)

    def security_groups(self):
        return self._call("get", "cluster/firewall/groups")

    def security_group_create(self, *, group, comment=""):
        return self._call("post", "cluster/firewall/groups", group=group, comment=comment or None)

    def ipsets(self, *, node=None, kind=None, vmid=None):
        """A guest's IP sets, or the cluster's when no guest is named."""
        return self._call("get", _ipset_path(node, kind, vmid))

    def ipset_create(self, *, name, comment="", node=None, kind=None, vmid=None):
        return self._call("post", _ipset_path(node, kind, vmid), name=name, comment=comment or None)

    def ipset_delete(self, *, name, node=None, kind=None, vmid=None):
        return self._call("delete", f"{_ipset_path(node, kind, vmid)}/{name}", force=True)

    def ipset_entries(self, *, name, node=None, kind=None, vmid=None):
        return self._call("get", f"{_ipset_path(node, kind, vmid)}/{name}")

    def ipset_add(self, *, name, cidr, node=None, kind=None, vmid=None):
        return self._call("post", f"{_ipset_path(node, kind, vmid)}/{name}", cidr=cidr)

    def ipset_remove(self, *, name, cidr, node=None, kind=None, vmid=None):
        return self._call("delete", f"{_ipset_path(node, kind, vmid)}/{name}/{quote(cidr, safe='')}")

    def appliances(self, node):
        return self._call("get", f"nodes/{node}/aplinfo")

    def appliance_download(self, *, node, storage, template):
        return self._call("post", f"nodes/{node}/aplinfo", storage=storage, template=template)

    def oci_pull(self, *, node, storage, reference, filename):
        return self._call("post", f"nodes/{node}/storage/{storage}/oci-registry-pull", reference=reference, filename=filename)

    def make_template(self, *, node, kind, vmid):
        """Returns a UPID for a VM; Proxmox converts a container synchronously and returns None."""
        return self._call("post", f"nodes/{node}/{kind}/{vmid}/template")

    def templates_on(self, *, node, storage):
        return self._call("get", f"nodes/{node}/storage/{storage}/content", content="vztmpl")

    # --- consoles (FACTS.md section 10) ----------------------------------------------------
    def guest_config(self, *, node, kind, vmid):
        return self._call("get", f"nodes/{node}/{kind}/{vmid}/config")

    def console_ticket(self, *, node, kind, vmid, console):
        """A console listener on the node: {port, ticket, user, password for VNC}. It waits about
        10 s for console_socket, and the ticket is good for 40 s."""
        if console == "vnc":
            # A password of its own: QEMU's VNC check reads only 8 characters of a ticket.
            return self._call("post", f"nodes/{node}/qemu/{vmid}/vncproxy", websocket=True,
                              **{"generate-password": True})
        return self._call("post", f"nodes/{node}/{kind}/{vmid}/termproxy")

    async def console_socket(self, *, node, kind, vmid, port, ticket):
        """The listener's websocket through pveproxy, with the API token and the cluster's TLS check."""
        host, api_port = _split_address(self.cluster.api_url)
        host = f"[{host}]" if ":" in host else host
        query = urlencode({"port": port, "vncticket": ticket})
        url = f"wss://{host}:{api_port}/api2/json/nodes/{node}/{kind}/{vmid}/vncwebsocket?{query}"
        auth = f"PVEAPIToken={self.cluster.token_id}={self.cluster.token_secret}"
        try:
            connection = await ws_connect(
                url, ssl=_ssl_context(self.cluster), additional_headers={"Authorization": auth},
                subprotocols=["binary"], compression=None, open_timeout=TIMEOUT, logger=_ws_log,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            reason = (exc.response.reason_phrase or "").strip()
            raise ProxmoxError(reason or f"HTTP {status}", status=status, retryable=status >= 502) from None
        except ssl.SSLError as exc:
            raise ProxmoxError(f"TLS verification failed: {exc}") from None
        except (InvalidHandshake, OSError, TimeoutError) as exc:
            # pveproxy hangs up without an answer when nothing listens on the port any more.
            raise ProxmoxError(f"Proxmox did not open the console: {exc.__class__.__name__}", retryable=True) from None
        return ConsoleSocket(connection)
