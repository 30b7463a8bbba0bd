"""Optional ACL checks from the schema's ``permissions`` entries (pve-access-control semantics).

Off by default: every valid credential is root-equivalent. When privileges are set, the token's
effective privileges are the given ACL (privilege separation: the token's own ACL is what counts).
"""

import re

from .errors import ApiError


def denied(detail=None):
    return ApiError(403, f"Permission check failed ({detail})" if detail else "Permission check failed")


class Acl:
    def __init__(self, mapping):
        # ACLs propagate to sub-paths, so '/' grants everywhere
        self.entries = {self._norm(path): set(privs) for path, privs in (mapping or {}).items()}

    @staticmethod
    def _norm(path):
        return "/" + path.strip("/")

    def privs_on(self, path, extra_paths=()):
        path = self._norm(path)
        out = set()
        for acl_path, privs in self.entries.items():
            for candidate in (path, *extra_paths):
                if candidate == acl_path or acl_path == "/" or candidate.startswith(acl_path + "/"):
                    out |= privs
        return out

    def to_dict(self):
        return {k: sorted(v) for k, v in self.entries.items()}


def check(acl, state, endpoint_info, params):
    """Raise the 403 Proxmox sends when ``acl`` lacks what the schema's check requires."""
    perms = endpoint_info.get("permissions") or {}
    expr = perms.get("check")
    if expr is None:
        return
    _eval(acl, state, expr, params, noerr=False)


def _subst(path, params):
    missing = []

    def repl(m):
        if m.group(1) not in params:
            missing.append(m.group(1))
            return m.group(0)
        return str(params[m.group(1)])
    return re.sub(r"\{([^}]+)\}", repl, path), missing


def _pool_paths(state, path):
    m = re.match(r"^/vms/(\d+)$", path)
    if m and state is not None:
        guest = state.guests.get(int(m.group(1)))
        if guest is not None and guest.pool:
            return (f"/pool/{guest.pool}",)
    return ()


def _eval(acl, state, expr, params, noerr):
    op = expr[0]
    if op == "perm":
        path, privs = expr[1], expr[2]
        opts = dict(zip(expr[3::2], expr[4::2], strict=False))
        if opts.get("require_param") and opts["require_param"] not in params:
            if noerr:
                return False
            raise denied()
        path, missing = _subst(path, params)
        if missing:
            if noerr:
                return False
            raise denied()
        have = acl.privs_on(path, _pool_paths(state, path))
        if opts.get("any"):
            if have & set(privs):
                return True
            if noerr:
                return False
            raise denied(f"{path}, {'|'.join(privs)}")
        for priv in privs:
            if priv not in have:
                if noerr:
                    return False
                raise denied(f"{path}, {priv}")
        return True
    if op in ("and", "or"):
        results = (_eval(acl, state, sub, params, True) for sub in expr[1:])
        ok = all(results) if op == "and" else any(results)
        if ok or noerr:
            return ok
        raise denied()
    # userid-param, userid-group, perm-modify: user management, not modelled
    return True
