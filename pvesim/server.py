"""HTTPS front end: a threaded http.server speaking HTTP/1.1 with keep-alive."""

import json
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from . import console, websocket
from .registry import PREFIX as REGISTRY_PREFIX


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pve-api-daemon/3.0"

    def version_string(self):
        return self.server_version

    def _handle(self):
        core = self.server.core
        parsed = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        upgrade = (self.headers.get("Upgrade") or "").lower()
        if upgrade and self.command == "GET" and parsed.path.endswith("websocket"):
            status, reason, payload = core.handle(self.command, parsed.path, parsed.query, body, self.headers)
            if status == 200:
                self._websocket(upgrade, payload["data"], parsed.path)
                return
        elif parsed.path.startswith(REGISTRY_PREFIX + "/"):
            # the registry speaks the distribution API, not PVE's envelope, and needs its own headers
            host = self.headers.get("Host") or "%s:%d" % self.server.server_address[:2]
            status, headers, data = core.handle_registry(self.command, parsed.path, parsed.query, self.headers, host)
            reason = None
        else:
            status, reason, payload = core.handle(self.command, parsed.path, parsed.query, body, self.headers)
        if not parsed.path.startswith(REGISTRY_PREFIX + "/"):
            data = json.dumps(payload, separators=(",", ":"), default=str).encode() if payload is not None else b""
            reason = reason.encode("latin-1", "replace").decode("latin-1").replace("\r", " ").replace("\n", " ")
            headers = [("Content-Type", "application/json;charset=UTF-8"), ("Cache-Control", "max-age=0"),
                       ("Pragma", "no-cache")]
        self.send_response(status, reason)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        if self.server.closed:
            # the listener went down during this request (outage); finish this answer, then hang up
            self.close_connection = True

    def _websocket(self, upgrade, data, path):
        """pveproxy's websocket_proxy: check the upgrade, connect to the listener, then relay."""
        self.close_connection = True
        error = "unable to upgrade to protocol '%s'" % upgrade if upgrade != "websocket" else \
            websocket.handshake_error(self.headers)
        if error:
            self.send_response(501, error)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        node = path.split("/nodes/", 1)[1].split("/", 1)[0]
        listener = self.server.core.consoles.take(node, data["port"])
        if listener is None:
            return  # nothing listens on that port (used or timed out): the connection just ends
        self.wfile.write(websocket.accept_response(self.headers))
        self.wfile.flush()
        console.serve(self.server.core, listener, websocket.Connection(self.connection, self.rfile))

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _handle

    def log_message(self, fmt, *args):
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, core, ssl_ctx):
        self.core = core
        self.ssl_ctx = ssl_ctx
        self.connections = set()
        self.conn_lock = threading.Lock()
        self.closed = False
        self.local = threading.local()
        super().__init__(addr, _Handler)

    def finish_request(self, request, client_address):
        # TLS handshake happens here, in the per-connection thread, so a slow client
        # cannot stall the accept loop.
        try:
            tls = self.ssl_ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        with self.conn_lock:
            self.connections.add(tls)
        self.local.conn = tls
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (ssl.SSLError, OSError):
            pass
        finally:
            with self.conn_lock:
                self.connections.discard(tls)
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        pass

    def drop_connections(self):
        own = getattr(self.local, "conn", None)
        with self.conn_lock:
            conns = [c for c in self.connections if c is not own]
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class HttpsFrontend:
    def __init__(self, core, host, port, cert_path, key_path):
        self.core = core
        self.host = host
        self.port = port
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert_path, key_path)
        self._server = None
        self._thread = None
        self._lock = threading.Lock()
        self._outage_timer = None

    def up(self):
        with self._lock:
            if self._server is not None:
                return
            self._server = _Server((self.host, self.port), self.core, self.ctx)
            self.port = self._server.server_address[1]
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                            name=f"pvesim-{self.port}", daemon=True)
            self._thread.start()

    def down(self):
        with self._lock:
            server, self._server = self._server, None
        if server is None:
            return
        server.closed = True
        server.shutdown()
        server.server_close()
        server.drop_connections()

    @property
    def is_up(self):
        return self._server is not None

    def outage(self, seconds):
        """Refuse connections for ``seconds`` (real seconds, not scaled), keeping state."""
        self.down()
        timer = threading.Timer(seconds, self.up)
        timer.daemon = True
        self._outage_timer = timer
        timer.start()

    def cancel_outage(self):
        if self._outage_timer is not None:
            self._outage_timer.cancel()
            self._outage_timer = None
