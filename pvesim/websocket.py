"""The server side of RFC 6455 as pve-http-server's websocket_proxy speaks it.

Like Proxmox: the upgrade needs `Sec-WebSocket-Version: 13` and a `Sec-WebSocket-Protocol`
offering `binary` (or `base64`); client frames must be masked, unfragmented and at most 128 KiB;
everything the guest side sends goes out as binary frames of at most 128 KiB; a ping is answered
with a pong and a close frame ends the connection.
"""

import base64
import hashlib
import socket
import struct
import threading

MAGIC = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_PAYLOAD = 128 * 1024


class Closed(Exception):
    """The peer closed, sent something Proxmox would refuse, or the simulator dropped the line."""


def handshake_error(headers):
    """PVE's reason for refusing the upgrade (answered as 501), or None."""
    if (headers.get("Sec-WebSocket-Version") or "") != "13":
        return f"unsupported websocket-version '{headers.get('Sec-WebSocket-Version') or ''}'"
    offered = headers.get("Sec-WebSocket-Protocol")
    if not offered:
        return "missing websocket-protocol header"
    if not protocol_of(offered):
        return f"unsupported websocket-protocol protocol '{offered}'"
    if not headers.get("Sec-WebSocket-Key"):
        return "missing websocket-key"
    return None


def protocol_of(offered):
    names = [p.strip() for p in offered.replace(";", ",").split(",") if p.strip()]
    return "binary" if "binary" in names else ("base64" if "base64" in names else None)


def accept_response(headers):
    key = headers.get("Sec-WebSocket-Key", "")
    accept = base64.b64encode(hashlib.sha1((key + MAGIC).encode()).digest()).decode()
    return ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: {protocol_of(headers['Sec-WebSocket-Protocol'])}"
            "\r\n\r\n").encode()


class Connection:
    """One upgraded connection: read client payloads, write guest bytes; thread-safe writes."""

    def __init__(self, sock, rfile):
        self.sock = sock
        self.rfile = rfile
        self._write_lock = threading.Lock()
        self.closed = False

    def _read_exact(self, n):
        try:
            data = self.rfile.read(n)
        except (OSError, ValueError, AttributeError) as exc:  # the line was cut from another thread
            raise Closed(str(exc)) from exc
        if data is None or len(data) < n:
            raise Closed("connection closed")
        return data

    def recv(self):
        """The next data payload from the client (bytes); answers pings; raises Closed at the end."""
        while True:
            head = self._read_exact(2)
            fin, opcode = head[0] & 0x80, head[0] & 0x0F
            if not fin:
                raise Closed("received fragmented websocket frame")
            if head[0] & 0x70:
                raise Closed("received websocket frame with RSV flags")
            if not head[1] & 0x80:
                raise Closed("received unmasked websocket frame from client")
            length = head[1] & 0x7F
            if length == 126:
                length = struct.unpack("!H", self._read_exact(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", self._read_exact(8))[0]
            if length > MAX_PAYLOAD:
                raise Closed(f"received too large websocket frame (len = {length})")
            mask = self._read_exact(4)
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self._read_exact(length)))
            if opcode in (1, 2):
                return payload
            if opcode == 8:
                self.close()
                raise Closed("websocket received close")
            if opcode == 9:
                self._frame(0x8A, payload)
            elif opcode != 0xA:
                raise Closed(f"received unhandled websocket opcode {opcode}")

    def send(self, data):
        for start in range(0, max(len(data), 1), MAX_PAYLOAD):
            self._frame(0x82, data[start:start + MAX_PAYLOAD])

    def _frame(self, first, payload):
        n = len(payload)
        if n <= 125:
            head = struct.pack("!BB", first, n)
        elif n <= 0xFFFF:
            head = struct.pack("!BBH", first, 126, n)
        else:
            head = struct.pack("!BBQ", first, 127, n)
        with self._write_lock:
            if self.closed:
                raise Closed("connection closed")
            try:
                self.sock.sendall(head + payload)
            except OSError as exc:
                self.closed = True
                raise Closed(str(exc)) from exc

    def close(self):
        """Proxmox shuts the TCP connection down when the guest side ends (no close frame)."""
        with self._write_lock:
            self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
