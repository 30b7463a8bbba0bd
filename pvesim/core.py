"""Request handling independent of the socket layer: auth, faults, routing, validation."""

import json
import threading
import time
import traceback
from collections import Counter
from urllib.parse import parse_qsl, unquote

from . import perms, registry, router
from .auth import Auth
from .errors import ApiError, param_error
from .faults import Faults
from .scenario import build_state
from .util import wire
from .validation import load_schema, own_errors, schema_errors

API_PREFIX = "/api2/json"


class Request:
    def __init__(self, core, method, path, template, path_params, params, headers):
        self.core = core
        self.method = method
        self.path = path
        self.template = template
        self.path_params = path_params
        self.params = params
        self.headers = headers
        self.auth_user = None
        self.auth_token = None

    @property
    def state(self):
        return self.core.state

    def p(self, name, default=None):
        if name in self.path_params:
            return self.path_params[name]
        return self.params.get(name, default)


class Core:
    def __init__(self, scenario="demo", time_scale=1.0, schema_path=None, token=None, user=None,
                 log_requests=None):
        self.scenario = scenario
        self.time_scale = float(time_scale)
        self.schema = load_schema(schema_path) if schema_path else None
        self.schema_path = schema_path
        self.auth = Auth(token, user)
        self.faults = Faults()
        self.log_path = log_requests
        self._log_lock = threading.Lock()
        self.counts = Counter()
        self._counts_lock = threading.Lock()
        self.state = build_state(scenario)
        self.registry = registry.Registry()
        self.started = time.time()
        self.outage_hook = None
        self.acl = None
        self.cert_path = None
        from .console import Consoles
        self.consoles = Consoles()
        # route modules register themselves on import
        from . import (  # noqa: F401
            console,
            routes_agent,
            routes_cluster,
            routes_firewall,
            routes_guests,
            routes_power,
            routes_snapshots,
            routes_storage,
            sim_control,
        )

    def reset(self):
        old = self.state
        old.aborted.set()
        self.consoles.reset()
        self.state = build_state(self.scenario)
        self.registry = registry.Registry()
        self.faults.clear()
        self.acl = None
        with self._counts_lock:
            self.counts.clear()

    def set_privileges(self, mapping):
        """None: root-equivalent token. Otherwise {acl path: [privileges]} for the API token."""
        self.acl = None if mapping is None else perms.Acl(mapping)

    def request_counts(self):
        with self._counts_lock:
            return dict(self.counts)

    # -- the request pipeline -------------------------------------------------
    def handle(self, method, raw_path, query, body, headers):
        """Return (status, reason, payload-or-None)."""
        method = method.upper()
        params = {}
        status, reason, payload, template = 500, "Internal Server Error", None, None
        try:
            params = self._decode(method, query, body, headers)
            if raw_path.startswith("/_sim/") or raw_path == "/_sim":
                template, data = self._control(method, raw_path, params, headers)
                status, reason, payload = 200, "OK", {"data": data}
            else:
                template, data, extra = self._api(method, raw_path, params, headers)
                status, reason, payload = 200, "OK", {"data": wire(data), **extra}
        except Exception as exc:  # a simulator bug must still answer like a handler die
            if not isinstance(exc, ApiError):
                traceback.print_exc()
                exc = ApiError(500, f"internal simulator error: {exc}")
            template = template or getattr(exc, "template", None)
            status = exc.status
            reason = exc.message.split("\n")[0]
            payload = None
            if exc.body:
                payload = {"data": None}
                if exc.errors is not None:
                    payload["errors"] = exc.errors
                payload["message"] = exc.message if exc.message.endswith("\n") else exc.message + "\n"
        self._record(method, raw_path, template, params, status)
        return status, reason, payload

    def handle_registry(self, method, raw_path, query, headers, host):
        """Return (status, [(header, value)], body) for the simulated OCI registry."""
        method = method.upper()
        template, status, out_headers, body = registry.handle(self.registry, method, raw_path, query, headers, host)
        self._record(method, raw_path, template, dict(parse_qsl(query or "")), status)
        return status, out_headers, body

    @staticmethod
    def _decode(method, query, body, headers):
        params = {}

        def put(k, v):
            if k in params:
                params[k] = params[k] if isinstance(params[k], list) else [params[k]]
                params[k].append(v)
            else:
                params[k] = v

        if method in ("POST", "PUT") and body:
            ctype = (headers.get("Content-Type") or "").lower()
            if ctype.startswith("application/json"):
                try:
                    decoded = json.loads(body.decode("utf-8"))
                except ValueError as exc:
                    raise ApiError(400, "Bad Request") from exc
                if isinstance(decoded, dict):
                    params.update(decoded)
            else:
                for k, v in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
                    put(k, v)
        for k, v in parse_qsl(query or "", keep_blank_values=True):
            put(k, v)
        return params

    def _api(self, method, raw_path, params, headers):
        if not raw_path.startswith(API_PREFIX + "/") and raw_path != API_PREFIX:
            raise ApiError(501, f"Method '{method} {raw_path}' not implemented")
        encoded = raw_path[len(API_PREFIX):] or "/"
        path = unquote(encoded)
        found = router.resolve(encoded)
        handler = router.ROUTES[found[0]].get(method) if found else None
        if method == "POST" and found and found[0] == "/access/ticket" \
                and "PVEAPIToken" not in (headers.get("Authorization") or ""):
            user, token = None, None
        else:
            try:
                user, token = self.auth.authenticate(headers, method)
            except ApiError as exc:
                exc.template = found[0] if found and handler else None
                raise
        if handler is None:
            raise ApiError(501, f"Method '{method} {path}' not implemented")
        template, path_params = found
        try:
            return self._dispatch(method, path, template, path_params, params, headers, handler, user, token)
        except Exception as exc:
            if not isinstance(exc, ApiError):
                traceback.print_exc()
                exc = ApiError(500, f"internal simulator error: {exc}")
            exc.template = template
            raise exc from None

    def _dispatch(self, method, path, template, path_params, params, headers, handler, user, token):
        req = Request(self, method, path, template, path_params, params, headers)
        req.auth_user, req.auth_token = user, token
        if template == "/access/ticket" and token:
            raise ApiError(403, "Permission check failed (URI '/access/ticket' not available with API "
                                "token, need proper ticket.)")
        fault = self.faults.http_fault_for(method, path)
        if fault:
            raise ApiError(fault[0], fault[1])
        encoding = "json" if (headers.get("Content-Type") or "").lower().startswith("application/json") else "form"
        if self.schema is not None:
            errors = schema_errors(self.schema, method, template, path_params, params, encoding)
            if errors is None:
                raise ApiError(501, f"Method '{method} {path}' not implemented")
        else:
            errors = own_errors(method, template, path_params, params)
        if errors:
            raise param_error(errors)
        if self.acl is not None and token is not None and self.schema is not None:
            ep = self.schema.find(method, template)
            perms.check(self.acl, self.state, ep.info, {**params, **path_params})
        node = path_params.get("node")
        if node:
            self._check_node_reachable(node)
        result = handler(req)
        if isinstance(result, tuple):
            return template, result[0], result[1]
        return template, result, {}

    def _check_node_reachable(self, node):
        with self.state.lock:
            n = self.state.nodes.get(node)
            if n is None:
                raise ApiError(500, f"hostname lookup '{node}' failed - failed to get address info for: "
                                    f"{node}: Name or service not known")
            if n.status != "online":
                # pveproxy on the node we talk to cannot reach the failed node
                raise ApiError(595, "Errors during connection establishment, proxy handler: "
                                    "No route to host")

    def _control(self, method, raw_path, params, headers):
        from .sim_control import dispatch
        self.auth.authenticate(headers, method)
        return dispatch(self, method, raw_path[len("/_sim"):], params)

    def _record(self, method, raw_path, template, params, status):
        key = f"{method} {template or raw_path}"
        with self._counts_lock:
            self.counts[key] += 1
        if self.log_path:
            line = json.dumps({"time": round(time.time(), 3), "method": method, "path": raw_path,
                               "template": template, "params": params, "status": status}, default=str)
            with self._log_lock, open(self.log_path, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
