"""Parsing and checking OpenSSH public keys ("type base64 [comment]") without trusting the input.

The wire format is a sequence of length-prefixed strings (RFC 4253 section 6.6); we read it
ourselves so we can give a precise reason for every rejection instead of "invalid key".
"""

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

MIN_RSA_BITS = 2048
ECDSA_CURVES = {"nistp256": ec.SECP256R1(), "nistp384": ec.SECP384R1(), "nistp521": ec.SECP521R1()}
ALLOWED_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)


@dataclass(frozen=True)
class PublicKey:
    key_type: str
    blob: bytes
    comment: str

    @property
    def fingerprint(self):
        """As `ssh-keygen -lf` prints it."""
        return "SHA256:" + base64.b64encode(hashlib.sha256(self.blob).digest()).decode().rstrip("=")

    @property
    def openssh(self):
        text = f"{self.key_type} {base64.b64encode(self.blob).decode()}"
        return f"{text} {self.comment}" if self.comment else text


class _Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def string(self):
        if self.pos + 4 > len(self.data):
            raise ValueError
        (length,) = struct.unpack(">I", self.data[self.pos : self.pos + 4])
        start = self.pos + 4
        if start + length > len(self.data):
            raise ValueError
        self.pos = start + length
        return self.data[start : self.pos]

    def done(self):
        return self.pos == len(self.data)


def parse_public_key(text):
    """A PublicKey, or ValidationError saying what is wrong with the text."""
    lines = [line.strip() for line in (text or "").strip().splitlines() if line.strip()]
    if not lines:
        raise ValidationError(_("Paste a public key."), code="required")
    if len(lines) > 1:
        raise ValidationError(
            _("Paste exactly one key on one line in OpenSSH format: type, key and an optional comment."),
            code="multiple_lines",
        )
    parts = lines[0].split(None, 2)
    if len(parts) < 2:
        raise ValidationError(
            _("This does not look like an OpenSSH public key (expected: type, key and an optional comment)."),
            code="format",
        )
    key_type, encoded = parts[0], parts[1]
    comment = parts[2].strip() if len(parts) > 2 else ""
    if key_type not in ALLOWED_TYPES:
        raise ValidationError(
            _("Key type %(type)s is not supported. Allowed: %(allowed)s."),
            code="type",
            params={"type": key_type[:40], "allowed": ", ".join(ALLOWED_TYPES)},
        )
    try:
        blob = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(_("The key data is not valid base64."), code="base64") from None
    try:
        _check_blob(key_type, blob)
    except ValueError:
        raise ValidationError(_("The key data is damaged or incomplete."), code="blob") from None
    return PublicKey(key_type=key_type, blob=blob, comment=comment)


def _check_blob(key_type, blob):
    reader = _Reader(blob)
    embedded = reader.string()
    if embedded != key_type.encode():
        raise ValidationError(
            _("The key data says %(embedded)s, but the line declares %(type)s."),
            code="type_mismatch",
            params={"embedded": embedded.decode("ascii", "replace")[:40], "type": key_type},
        )
    if key_type in ("ssh-ed25519", "sk-ssh-ed25519@openssh.com"):
        if len(reader.string()) != 32:
            raise ValueError
    elif key_type == "ssh-rsa":
        reader.string()  # public exponent
        modulus = int.from_bytes(reader.string(), "big")
        if modulus.bit_length() < MIN_RSA_BITS:
            raise ValidationError(
                _("RSA keys need at least %(min)s bits; this one has %(bits)s."),
                code="rsa_short",
                params={"min": MIN_RSA_BITS, "bits": modulus.bit_length()},
            )
    else:
        curve_name = reader.string().decode("ascii", "replace")
        if key_type not in (f"ecdsa-sha2-{curve_name}", f"sk-ecdsa-sha2-{curve_name}@openssh.com"):
            raise ValueError
        # Rejects points that are not on the curve, which a length check would let through.
        ec.EllipticCurvePublicKey.from_encoded_point(ECDSA_CURVES[curve_name], reader.string())
    if key_type.startswith("sk-"):
        reader.string()  # application, usually "ssh:"
    if not reader.done():
        raise ValueError
