"""Webhook secrets at rest: Fernet-encrypted with a key derived from FIELD_ENCRYPTION_KEY (from the
environment, kept when SECRET_KEY is rotated). The portal must read a secret back to sign with it,
so it is encrypted, not hashed; a database dump alone does not let anyone forge a signature.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet():
    # Its own derivation: a key for the clusters' tokens (provisioning) does not open these.
    key = hashlib.sha256(("portal-webhook-secret:" + settings.FIELD_ENCRYPTION_KEY).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode() if value else ""


def decrypt(token: str) -> str:
    """The secret, or "" when it cannot be read (the key changed): the tenant rotates it then."""
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        return ""
