"""The format of personal API tokens: `jiku_<lookup>_<secret>`.

`jiku_<lookup>` is the non-secret prefix stored in clear to find the row (and shown in lists);
the whole token is stored only as its SHA-256. A token carries 256 random bits, so a plain hash
cannot be brute-forced and needs no slow KDF; compare_digest keeps the check constant-time.
"""

import hashlib
import hmac
import secrets
import string

SCHEME = "jiku"
LOOKUP_ALPHABET = string.ascii_lowercase + string.digits
LOOKUP_LENGTH = 10


def generate():
    """A new (token, prefix, hash) triple; the token itself is shown once and then forgotten."""
    lookup = "".join(secrets.choice(LOOKUP_ALPHABET) for _ in range(LOOKUP_LENGTH))
    prefix = f"{SCHEME}_{lookup}"
    token = f"{prefix}_{secrets.token_urlsafe(32)}"
    return token, prefix, hash_token(token)


def hash_token(token):
    return hashlib.sha256(token.encode()).hexdigest()


def split(token):
    """The lookup prefix of a well-formed token, else None."""
    parts = (token or "").split("_", 2)
    if len(parts) != 3 or parts[0] != SCHEME or len(parts[1]) != LOOKUP_LENGTH or len(parts[2]) < 32:
        return None
    if not set(parts[1]) <= set(LOOKUP_ALPHABET):
        return None
    return f"{parts[0]}_{parts[1]}"


def matches(token, key_hash):
    return hmac.compare_digest(hash_token(token), key_hash)
