"""Between the browser and Proxmox's console websocket: only the portal speaks Proxmox's side.

- Terminal (xterm.js): Proxmox wants `<user>:<ticket>\\n` first and answers `OK`; then input goes
  as `0:<len>:<data>`, a resize as `1:<cols>:<rows>:` and a keep-alive as `2`. The browser sends
  plain bytes and JSON control messages; it never sees the ticket or the framing.
- VNC (noVNC): the portal does the VNC Authentication with Proxmox's password itself and offers
  the browser security type None, then relays RFB unchanged. The password stays here.
"""

import asyncio
import json
import struct

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

HANDSHAKE_SECONDS = 10
KEEPALIVE_SECONDS = 30
RFB_VERSION = b"RFB 003.008\n"


class Refused(Exception):
    """Proxmox did not accept the console's credentials or spoke something unexpected."""


class _Reader:
    """Exact reads over a stream of websocket messages."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""

    async def read(self, n):
        while len(self.buffer) < n:
            chunk = await self.sock.recv()
            if chunk is None:
                raise Refused("Proxmox closed the console during the handshake")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data


def vnc_response(password, challenge):
    """VNC Authentication: the challenge DES-encrypted with the password, each key byte bit-reversed."""
    key = bytes(int(f"{b:08b}"[::-1], 2) for b in password.encode("latin-1", "replace")[:8].ljust(8, b"\0"))
    encryptor = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()
    return encryptor.update(challenge) + encryptor.finalize()


class TerminalBridge:
    def __init__(self, sock, *, user, ticket):
        self.sock = sock
        self._login = f"{user}:{ticket}\n".encode()
        self._early = b""

    async def authenticate(self):
        reader = _Reader(self.sock)
        await self.sock.send(self._login)
        if await asyncio.wait_for(reader.read(2), HANDSHAKE_SECONDS) != b"OK":
            raise Refused("termproxy did not answer OK")
        self._early = reader.buffer

    async def start(self, send_browser):
        if self._early:
            await send_browser(self._early)

    async def from_browser(self, text, data):
        if data:
            await self.sock.send(b"0:%d:" % len(data) + data)
        elif text:
            try:
                message = json.loads(text)
                cols, rows = (int(v) for v in message["resize"])
            except (ValueError, KeyError, TypeError):
                return
            if 1 <= cols <= 1000 and 1 <= rows <= 1000:
                await self.sock.send(f"1:{cols}:{rows}:".encode())

    async def keepalive(self):
        while True:
            await asyncio.sleep(KEEPALIVE_SECONDS)
            await self.sock.send(b"2")


class VncBridge:
    def __init__(self, sock, *, password):
        self.sock = sock
        self._password = password
        self._state = "version"
        self._browser = b""
        self._early = b""

    async def authenticate(self):
        await asyncio.wait_for(self._authenticate(), HANDSHAKE_SECONDS)

    async def _authenticate(self):
        reader = _Reader(self.sock)
        if not (await reader.read(12)).startswith(b"RFB 003."):
            raise Refused("not an RFB server")
        await self.sock.send(RFB_VERSION)
        count = (await reader.read(1))[0]
        if count == 0:
            raise Refused("RFB server refused the connection")
        types = await reader.read(count)
        if 2 not in types:
            raise Refused("RFB server does not offer VNC Authentication")
        await self.sock.send(b"\x02")
        await self.sock.send(vnc_response(self._password, await reader.read(16)))
        if struct.unpack("!I", await reader.read(4))[0] != 0:
            raise Refused("VNC Authentication failed")
        self._early = reader.buffer

    async def start(self, send_browser):
        self._send_browser = send_browser
        await send_browser(RFB_VERSION)

    async def from_browser(self, text, data):
        if not data:
            return
        if self._state == "pipe":
            await self.sock.send(data)
            return
        self._browser += data
        if self._state == "version" and len(self._browser) >= 12:
            self._browser = self._browser[12:]
            self._state = "security"
            await self._send_browser(b"\x01\x01")  # one security type: None (the portal authenticated)
        if self._state == "security" and self._browser:
            self._browser = self._browser[1:]
            self._state = "pipe"
            await self._send_browser(struct.pack("!I", 0))
            if self._early:
                await self._send_browser(self._early)
            if self._browser:
                await self.sock.send(self._browser)
            self._browser = b""

    async def keepalive(self):
        return None
