"""Real OpenSSH public keys made with `cryptography`, and raw wire-format blobs for broken ones."""

import base64
import struct

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa


def openssh(private_key, comment=""):
    line = private_key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return line.decode() + (f" {comment}" if comment else "")


def ed25519_key(comment="alice@laptop"):
    return openssh(ed25519.Ed25519PrivateKey.generate(), comment)


def rsa_key(bits=2048, comment="alice@old-laptop"):
    return openssh(rsa.generate_private_key(public_exponent=65537, key_size=bits), comment)


def ecdsa_key(curve=ec.SECP256R1, comment="alice@phone"):
    return openssh(ec.generate_private_key(curve()), comment)


def wire(*parts):
    return b"".join(struct.pack(">I", len(p)) + p for p in parts)


def line(key_type, blob, comment=""):
    text = f"{key_type} {base64.b64encode(blob).decode()}"
    return f"{text} {comment}" if comment else text
