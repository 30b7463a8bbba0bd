"""API tokens, tickets and CSRF tokens as pve-access-control checks them."""

import base64
import hashlib
import hmac
import os
import re
import secrets
import time
import uuid
from urllib.parse import unquote

from .errors import ApiError

TICKET_LIFETIME = 2 * 3600
_TOKEN_RE = re.compile(r"(?:^|\s)PVEAPIToken(?:=| )([^;]*)")
_COOKIE_RE = re.compile(r"(?:^|\s|;)PVEAuthCookie=([^;]*)")


def unauthorized(reason):
    # pve-http-server answers 401 without a body for JSON requests
    return ApiError(401, reason, body=False)


def split_token_id(full):
    """'root@pam!portal' -> ('root@pam', 'portal')."""
    user, _, tokenid = full.partition("!")
    return user, tokenid


class Auth:
    def __init__(self, token=None, user=None):
        if token is None:
            token = f"root@pam!portal={uuid.uuid4()}"
        token_id, _, secret = token.rpartition("=")
        self.tokens = {token_id: secret}
        if user is None:
            user = f"root@pam:{secrets.token_urlsafe(12)}"
        username, _, password = user.partition(":")
        self.users = {username: password}
        self._key = os.urandom(32)

    @property
    def token_id(self):
        return next(iter(self.tokens))

    @property
    def token_secret(self):
        return next(iter(self.tokens.values()))

    # -- tickets -------------------------------------------------------------
    def _sign(self, text):
        return base64.b64encode(hmac.new(self._key, text.encode(), hashlib.sha256).digest()).decode()

    def make_ticket(self, username):
        plain = f"PVE:{username}:{int(time.time()):08X}"
        return f"{plain}::{self._sign(plain)}"

    def make_csrf(self, username):
        stamp = f"{int(time.time()):08X}"
        return f"{stamp}:{self._sign(stamp + ':' + username)}"

    def check_ticket(self, ticket):
        m = re.match(r"^(PVE:([^:]+):([0-9A-F]{8}))::(.+)$", ticket or "")
        if not m or not hmac.compare_digest(self._sign(m.group(1)), m.group(4)):
            return None
        age = time.time() - int(m.group(3), 16)
        if age > TICKET_LIFETIME or age < -300:
            return None
        return m.group(2)

    def check_csrf(self, token, username):
        m = re.match(r"^([A-Z0-9]{8}):(\S+)$", token or "")
        return bool(m) and hmac.compare_digest(self._sign(m.group(1) + ":" + username), m.group(2))

    def login(self, params):
        username = params.get("username", "")
        realm = params.get("realm")
        if realm and "@" not in username:
            username = f"{username}@{realm}"
        password = params.get("password", "")
        ok = username in self.users and hmac.compare_digest(self.users[username], str(password))
        if not ok and self.check_ticket(str(password)) == username:
            ok = True  # proxmoxer renews tickets by posting the old one as the password
        if not ok:
            raise unauthorized("authentication failure")
        return {"username": username, "ticket": self.make_ticket(username),
                "CSRFPreventionToken": self.make_csrf(username), "clustername": "pvesim", "cap": {}}

    # -- request authentication -----------------------------------------------
    def authenticate(self, headers, method):
        """Return (user, tokenid or None) or raise the 401 Proxmox sends."""
        authz = headers.get("Authorization", "") or ""
        m = _TOKEN_RE.search(authz)
        if m:
            value = unquote(m.group(1))
            tm = re.match(r"^(.*)=(.*)$", value)
            if not tm:
                raise unauthorized("Authentication failed!")
            full, secret = tm.group(1), tm.group(2)
            expected = self.tokens.get(full)
            if expected is None or not hmac.compare_digest(expected, secret):
                raise unauthorized("Authentication failed!")
            user, tokenid = split_token_id(full)
            return user, tokenid
        ticket = None
        cm = _COOKIE_RE.search(headers.get("Cookie", "") or "")
        if cm:
            ticket = unquote(cm.group(1))
        elif authz.startswith("PVEAuthCookie="):
            ticket = unquote(authz[len("PVEAuthCookie="):])
        if ticket is None:
            raise unauthorized("No ticket")
        user = self.check_ticket(ticket)
        if user is None:
            raise unauthorized("Authentication failed!")
        if method != "GET" and not self.check_csrf(headers.get("CSRFPreventionToken"), user):
            raise unauthorized("Permission denied - invalid csrf token")
        return user, None
