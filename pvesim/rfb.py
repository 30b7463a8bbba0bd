"""A VNC (RFB 3.8) server that shows the guest's text console, as QEMU's display does for noVNC.

The screen is 80x25 characters drawn with a built-in 5x7 font, scaled twice (960x450 pixels),
sent in Raw encoding for the rows that changed. Authentication is VNC Authentication (type 2)
with the password `vncproxy` handed out (`generate-password=1`) or else the first 8 characters of
the ticket, as QEMU truncates it. Key events are typed into the guest; Ctrl-Alt-Del reboots it.
"""

import os
import struct

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from .websocket import Closed

COLS, ROWS = 80, 25
SCALE = 2
CELL_W, CELL_H = 6 * SCALE, 9 * SCALE
WIDTH, HEIGHT = COLS * CELL_W, ROWS * CELL_H
FG, BG = (0xAA, 0xAA, 0xAA), (0x00, 0x00, 0x00)

# 7 rows of 5 bits for each of ' ' .. '~', nine hex digits a glyph (drawn for the simulator).
GLYPHS = (
    "000000000108421004294a00000295f57d4a11f4717c463222226332544564d108800000088842082208210888009575480"
    "0084f90800000030880000f800000000018c0022222003a33ae62e11842108e3a211111f7c441062e08ca97c427e1e0862e"
    "1910f462e7c22221083a317462e3a317844c018c03180018c03088088882082001f07c002082088883a21110043a216d6ae"
    "3a31fc6317a31f463e3a308422e72518c65c7e10f421f7e10f42103a30bc62f4631fc63138842108e1c4210a4c4654c5251"
    "42108421f4775ac6314639ace313a318c62e7a31f42103a318d64d7a31f52513e107043e7c842108446318c62e46318c544"
    "4631ad6aa462a22a314631510847c222221f39084210e02082082038421084e11510000000000001f208200000000e0be2f"
    "4216cc63e000e8422e042d9c62f000e8fe0e1928e210801f18bc2e4216cc631100c2108e080610a4c4212a629230842108e"
    "001aad6310016cc631000e8c62e001e8fa10000d9bc210016cc210000e8383e211c4212600118c66d00118c54400118d6aa"
    "00115115100118bc2e001f1111f0884410821084210842084110880008a8800"
)


def _glyph_rows(ch):
    code = ord(ch) - 32 if " " <= ch <= "~" else ord("?") - 32
    bits = int("".join(GLYPHS)[code * 9:code * 9 + 9], 16)
    return [(bits >> (5 * (6 - row))) & 0x1F for row in range(7)]


def vnc_response(password, challenge):
    """VNC Authentication: DES of the challenge, keyed with the password's bytes bit-reversed."""
    key = bytes(int(f"{b:08b}"[::-1], 2) for b in password.encode("latin-1", "replace")[:8].ljust(8, b"\0"))
    encryptor = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()
    return encryptor.update(challenge) + encryptor.finalize()


class TextScreen:
    """A minimal terminal: printable text, CR, LF, backspace, home and clear; it scrolls."""

    def __init__(self):
        self.cells = [[" "] * COLS for _ in range(ROWS)]
        self.row = self.col = 0
        self.dirty = set(range(ROWS))
        self._escape = ""

    def write(self, text):
        for ch in text:
            if self._escape or ch == "\x1b":
                self._escape += ch
                if len(self._escape) > 1 and self._escape[-1].isalpha():
                    if self._escape == "\x1b[H":
                        self._move(0, 0)
                    elif self._escape == "\x1b[2J":
                        self.cells = [[" "] * COLS for _ in range(ROWS)]
                        self.dirty = set(range(ROWS))
                    self._escape = ""
                continue
            if ch == "\r":
                self._move(self.row, 0)
            elif ch == "\n":
                self._newline()
            elif ch == "\b":
                self._move(self.row, max(0, self.col - 1))
            elif ch >= " ":
                if self.col >= COLS:
                    self._newline()
                    self._move(self.row, 0)
                self.cells[self.row][self.col] = ch
                self.dirty.add(self.row)
                self.col += 1

    def _move(self, row, col):
        self.dirty.add(self.row)
        self.row, self.col = row, col
        self.dirty.add(row)

    def _newline(self):
        if self.row == ROWS - 1:
            self.cells = self.cells[1:] + [[" "] * COLS]
            self.dirty = set(range(ROWS))
        else:
            self._move(self.row + 1, self.col)

    def text(self):
        return "\n".join("".join(r).rstrip() for r in self.cells)


class PixelFormat:
    """The client's pixel format (true colour only); turns RGB into its pixel bytes."""

    def __init__(self, raw=None):
        raw = raw or struct.pack("!BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)
        (self.bpp, _depth, big, _true, self.rmax, self.gmax, self.bmax, self.rshift, self.gshift,
         self.bshift) = struct.unpack("!BBBBHHHBBB3x", raw)
        self.raw = raw
        self.order = "big" if big else "little"

    def pixel(self, rgb):
        r, g, b = rgb
        value = ((r * self.rmax // 255) << self.rshift | (g * self.gmax // 255) << self.gshift
                 | (b * self.bmax // 255) << self.bshift)
        return value.to_bytes(self.bpp // 8, self.order)


class Renderer:
    def __init__(self, pf):
        self.pf = pf
        self.fg, self.bg = pf.pixel(FG), pf.pixel(BG)
        self._cache = {}

    def cell_lines(self, ch, cursor):
        """The cell's CELL_H pixel lines as bytes."""
        key = (ch, cursor)
        if key not in self._cache:
            lines = [self.bg * CELL_W] * CELL_H
            for row, bits in enumerate(_glyph_rows(ch)):
                line = self.bg * SCALE + b"".join((self.fg if bits >> (4 - x) & 1 else self.bg) * SCALE for x in range(5))
                line += self.bg * (CELL_W - len(line) // len(self.bg))
                for dy in range(SCALE):
                    lines[SCALE * (row + 1) + dy] = line
            if cursor:
                lines[-2:] = [self.fg * CELL_W] * 2
            self._cache[key] = lines
        return self._cache[key]

    def row_pixels(self, screen, row):
        cells = [self.cell_lines(ch, row == screen.row and col == screen.col) for col, ch in enumerate(screen.cells[row])]
        return b"".join(b"".join(cell[y] for cell in cells) for y in range(CELL_H))


KEYS = {0xFF0D: "\r", 0xFF8D: "\r", 0xFF08: "\x7f", 0xFF09: "\t", 0xFF1B: "\x1b", 0xFF52: "\x1b[A",
        0xFF54: "\x1b[B", 0xFF53: "\x1b[C", 0xFF51: "\x1b[D"}
CONTROL, ALT, DELETE = {0xFFE3, 0xFFE4}, {0xFFE9, 0xFFEA, 0xFFE7, 0xFFE8}, {0xFFFF, 0xFF9F}


def keysym_text(keysym, ctrl):
    if keysym in KEYS:
        return KEYS[keysym]
    if 0x20 <= keysym <= 0xFF:
        ch = chr(keysym)
    elif keysym & 0xFF000000 == 0x01000000:
        ch = chr(keysym & 0xFFFFFF)
    else:
        return ""
    if ctrl and ch.isalpha():
        return chr(ord(ch.lower()) & 0x1F)
    return ch


class RfbSession:
    """One VNC client on an upgraded websocket; runs in the connection's thread until it ends."""

    def __init__(self, conn, shell, *, name, password):
        self.conn = conn
        self.shell = shell
        self.name = name
        self.password = password
        self.screen = TextScreen()
        self.screen.write(shell.greeting)
        self.renderer = Renderer(PixelFormat())
        self.buf = b""
        self.wanted = False
        self.held = set()

    def _need(self, n):
        while len(self.buf) < n:
            self.buf += self.conn.recv()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def run(self):
        self.conn.send(b"RFB 003.008\n")
        if not self._need(12).startswith(b"RFB 003."):
            raise Closed("unsupported RFB version")
        self.conn.send(b"\x01\x02")  # one security type: VNC Authentication
        if self._need(1) != b"\x02":
            raise Closed("unsupported security type")
        challenge = os.urandom(16)
        self.conn.send(challenge)
        if self._need(16) != vnc_response(self.password, challenge):
            reason = b"Authentication failed"
            self.conn.send(struct.pack("!II", 1, len(reason)) + reason)
            raise Closed("authentication failed")
        self.conn.send(struct.pack("!I", 0))
        self._need(1)  # ClientInit: shared flag
        name = self.name.encode()
        self.conn.send(struct.pack("!HH", WIDTH, HEIGHT) + self.renderer.pf.raw + struct.pack("!I", len(name)) + name)
        while True:
            self._message()
            self._update()

    def _message(self):
        kind = self._need(1)[0]
        if kind == 0:  # SetPixelFormat
            self.renderer = Renderer(PixelFormat(self._need(19)[3:]))
            self.screen.dirty = set(range(ROWS))
        elif kind == 2:  # SetEncodings
            count = struct.unpack("!xH", self._need(3))[0]
            self._need(4 * count)
        elif kind == 3:  # FramebufferUpdateRequest
            incremental = self._need(9)[0]
            if not incremental:
                self.screen.dirty = set(range(ROWS))
            self.wanted = True
        elif kind == 4:  # KeyEvent
            down, keysym = struct.unpack("!BxxI", self._need(7))
            self._key(keysym, bool(down))
        elif kind == 5:  # PointerEvent
            self._need(5)
        elif kind == 6:  # ClientCutText: QEMU ignores it without a guest agent
            length = struct.unpack("!xxxI", self._need(7))[0]
            self._need(length)
        else:
            raise Closed(f"unknown RFB message {kind}")

    def _key(self, keysym, down):
        if keysym in CONTROL | ALT:
            (self.held.add if down else self.held.discard)(keysym)
            return
        if not down:
            return
        if keysym in DELETE and self.held & CONTROL and self.held & ALT:
            self.screen.write(self.shell.reboot())
            return
        text = keysym_text(keysym, bool(self.held & CONTROL))
        if text:
            self.screen.write(self.shell.feed(text))

    def _update(self):
        if not (self.wanted and self.screen.dirty):
            return
        rows = sorted(self.screen.dirty)
        self.screen.dirty = set()
        self.wanted = False
        out = [struct.pack("!BxH", 0, len(rows))]
        for row in rows:
            out.append(struct.pack("!HHHHi", 0, row * CELL_H, WIDTH, CELL_H, 0))
            out.append(self.renderer.row_pixels(self.screen, row))
        self.conn.send(b"".join(out))
