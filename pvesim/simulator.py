"""The Python API that tests use: start a simulator in-process on a free port."""

import os
import tempfile
import time
import warnings

from . import certs, ha, nodes, sim_control
from .core import Core
from .server import HttpsFrontend
from .sim_control import dump_state


class Simulator:
    def __init__(self, scenario="demo", time_scale=0.0, schema_path=None, token=None, user=None,
                 log_requests=None, host="127.0.0.1", port=0, cert=None, key=None):
        if schema_path is None:
            schema_path = os.environ.get("PVESIM_SCHEMA") or None
            if schema_path and not os.path.exists(schema_path):
                # a stale env var should not break test runs on machines without the schema
                warnings.warn(f"PVESIM_SCHEMA={schema_path} does not exist; using own checks", stacklevel=2)
                schema_path = None
        if log_requests is None:
            log_requests = os.environ.get("PVESIM_LOG_REQUESTS") or None
        self.core = Core(scenario=scenario, time_scale=time_scale, schema_path=schema_path, token=token,
                         user=user, log_requests=log_requests)
        self.host = host
        self._port = port
        self._cert, self._key = cert, key
        self._frontend = None
        self._tmpdir = None

    # -- lifecycle ---------------------------------------------------------------------
    def start(self):
        if self._cert is None:
            self._tmpdir = tempfile.mkdtemp(prefix="pvesim-")
            hosts = ("localhost",) if self.host in ("127.0.0.1", "localhost", "0.0.0.0") else ("localhost", self.host)
            ips = ("127.0.0.1",) if not _is_ip(self.host) or self.host in ("127.0.0.1", "0.0.0.0") \
                else ("127.0.0.1", self.host)
            self._cert, self._key = certs.generate(self._tmpdir, hosts, ips)
        self.core.cert_path = self._cert
        self._frontend = HttpsFrontend(self.core, self.host, self._port, self._cert, self._key)
        self._frontend.up()
        self._port = self._frontend.port
        self.core.outage_hook = self.outage
        return self

    def stop(self):
        if self._frontend is not None:
            self._frontend.cancel_outage()
            self._frontend.down()
        self.core.state.aborted.set()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- connection details ------------------------------------------------------------------
    @property
    def port(self):
        return self._port

    @property
    def url(self):
        host = "127.0.0.1" if self.host == "0.0.0.0" else self.host
        return f"https://{host}:{self._port}"

    @property
    def token_id(self):
        return self.core.auth.token_id

    @property
    def token_secret(self):
        return self.core.auth.token_secret

    @property
    def token(self):
        return f"{self.token_id}={self.token_secret}"

    @property
    def user(self):
        return next(iter(self.core.auth.users))

    @property
    def password(self):
        return next(iter(self.core.auth.users.values()))

    @property
    def ca_cert_path(self):
        return self._cert

    @property
    def registry_url(self):
        return f"{self.url}/registry"

    # -- faults and time -------------------------------------------------------------------
    def add_fault(self, method="POST", path=".*", count=1, status=500, reason=None, task_error=None):
        return self.core.faults.add(method=method, path=path, count=count, status=status, reason=reason,
                                    task_error=task_error)

    def clear_faults(self):
        self.core.faults.clear()

    def fail_node(self, node):
        ha.fail_node(self.core, node)

    def recover_node(self, node):
        """Bring a failed node back; its non-HA ``onboot=1`` guests start after a short delay."""
        nodes.recover_node(self.core, node)

    def join_node(self, name, cores=32, memory_gb=128, disk_gb=100):
        """Add an empty node to the running cluster, as ``pvecm add`` does. Raises ApiError
        (500 ``can't add existing node 'x'``, or 400 for an invalid name or size)."""
        nodes.join_node(self.core, name, cores=cores, memory_gb=memory_gb, disk_gb=disk_gb)

    def outage(self, seconds):
        self._frontend.outage(seconds)

    def go_down(self):
        self._frontend.cancel_outage()
        self._frontend.down()

    def come_up(self):
        self._frontend.cancel_outage()
        self._frontend.up()

    def set_privileges(self, mapping):
        """Restrict the API token to ``{path: [privileges]}`` (checked from the schema's
        permissions, so it needs a schema); ``None`` restores full access."""
        self.core.set_privileges(mapping)

    def add_load(self, *, vmid=None, node=None, cpu=0.9, seconds=60, ago=0):
        """A burst of CPU load (0..1) on a guest or node, ending `ago` seconds ago and lasting `seconds`."""
        return sim_control.add_load(self.core, vmid=vmid, node=node, cpu=cpu, seconds=seconds, ago=ago)

    def set_time_scale(self, value):
        self.core.time_scale = float(value)

    @property
    def time_scale(self):
        return self.core.time_scale

    # -- consoles ---------------------------------------------------------------------------
    def consoles(self):
        """Listeners waiting for their connection and the consoles open now."""
        return self.core.consoles.summary()

    def drop_consoles(self, vmid=None):
        """Cut the open consoles (of one guest, or all) as a lost connection does; returns how many."""
        return self.core.consoles.drop(vmid)

    # -- the simulated OCI registry ----------------------------------------------------------
    def registry_push(self, repo, tag, size_mb=None):
        """Create ``repo:tag`` or move it to a new digest; return the digest. ``size_mb``
        defaults to the tag's previous size (100 for a new tag)."""
        return self.core.registry.push(repo, tag, size_mb)

    def registry_delete(self, repo, tag):
        """Remove the tag (KeyError if it does not exist); its manifest stays reachable by digest."""
        self.core.registry.delete(repo, tag)

    def registry_digest(self, repo, tag):
        return self.core.registry.digest(repo, tag)

    # -- inspection ------------------------------------------------------------------------
    def state(self):
        return dump_state(self.core)

    def request_counts(self):
        return self.core.request_counts()

    def reset(self):
        self.core.reset()

    def wait_idle(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.core.state
            with st.lock:
                if st.running_tasks == 0 and st.pending_timers == 0:
                    return True
            time.sleep(0.01)
        raise TimeoutError(f"simulator not idle after {timeout}s")


def _is_ip(text):
    import ipaddress
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False
