"""Path-template routing for /api2/json, tolerant of raw UPIDs and volume ids with slashes."""

from collections import defaultdict
from urllib.parse import unquote

ROUTES = defaultdict(dict)       # template -> {METHOD: handler}
_BY_LEN = defaultdict(list)      # segment count -> [(segments, template)]
GREEDY_LAST = {"/nodes/{node}/storage/{storage}/content/{volume}"}


def route(method, template):
    def deco(fn):
        if template not in ROUTES:
            segs = template.strip("/").split("/")
            _BY_LEN[len(segs)].append((segs, template))
            _BY_LEN[len(segs)].sort(key=lambda x: sum(s.startswith("{") for s in x[0]))
        ROUTES[template][method] = fn
        return fn
    return deco


def split_path(raw_path):
    """Split on raw '/' first, then percent-decode each segment, so an encoded UPID or
    an encoded volid (``local%3Abackup%2Fx``) stays one segment."""
    return [unquote(s) for s in raw_path.strip("/").split("/")] if raw_path.strip("/") else []


def _match(segs):
    for tsegs, template in _BY_LEN.get(len(segs), ()):
        params = {}
        for ts, s in zip(tsegs, segs, strict=False):
            if ts[0] == "{":
                if s == "":
                    break
                params[ts[1:-1]] = s
            elif ts != s:
                break
        else:
            return template, params
    return None


def resolve(raw_path):
    """Return (template, path_params) or None."""
    segs = split_path(raw_path)
    found = _match(segs)
    if found:
        return found
    for template in GREEDY_LAST:
        tsegs = template.strip("/").split("/")
        if len(segs) > len(tsegs):
            joined = segs[:len(tsegs) - 1] + ["/".join(segs[len(tsegs) - 1:])]
            found = _match(joined)
            if found and found[0] == template:
                return found
    return None


def all_routes():
    return {t: sorted(m) for t, m in ROUTES.items()}
