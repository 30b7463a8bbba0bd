"""A simulated OCI registry standing in for Docker Hub (and any other registry host).

It serves the parts of the distribution API a client needs to pin a tag to a digest: the
``/v2/`` check, an anonymous token service and manifests by tag or digest. Manifests are
generated OCI image indexes; there are no blobs and no push API.
"""

import hashlib
import itertools
import json
import re
import secrets
import threading
import time
from collections import namedtuple
from datetime import datetime, timezone
from urllib.parse import parse_qsl

PREFIX = "/registry"
SERVICE = "pvesim-registry"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
TOKEN_LIFETIME = 300
DEFAULT_SIZE_MB = 100
DOCKER_HUB = "docker.io"
_HUB_ALIASES = {"docker.io", "index.docker.io", "registry-1.docker.io"}
_REPO_RE = re.compile(r"^[a-z\d]+(?:(?:[._]|__|-+)[a-z\d]+)*(?:/[a-z\d]+(?:(?:[._]|__|-+)[a-z\d]+)*)*$")
_TAG_RE = re.compile(r"^\w[\w.-]{0,127}$")
_MANIFEST_PATH = re.compile(r"^/v2/(.+)/manifests/([^/]+)$")

# (repository, tag, compressed size in MiB)
SEED = [
    ("library/nginx", "1.27", 68),
    ("library/nginx", "alpine", 21),
    ("library/redis", "7", 45),
    ("library/postgres", "17", 152),
    ("library/nextcloud", "31", 440),
    ("mattermost/mattermost-team-edition", "10.5", 385),
]

Image = namedtuple("Image", "digest body size")


class RegistryError(Exception):
    def __init__(self, status, code, message, detail=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail


def parse_reference(reference):
    """``nginx:1.27`` -> ``("docker.io", "library/nginx", "1.27")``.

    As in Docker, the first component names a registry only if it looks like a host
    (has a dot or a port, or is ``localhost``); otherwise the image is on Docker Hub.
    """
    first, _, rest = reference.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        host, name = first, rest
    else:
        host, name = DOCKER_HUB, reference
    if host in _HUB_ALIASES:
        host = DOCKER_HUB
    repo, sep, tag = name.rpartition(":")
    if not sep or "/" in tag:
        repo, tag = name, "latest"
    if host == DOCKER_HUB and "/" not in repo:
        repo = f"library/{repo}"
    return host, repo, tag


class Registry:
    """Repositories, tags and anonymous pull tokens; safe to use from any thread."""

    def __init__(self, seed=SEED):
        self._lock = threading.Lock()
        self._tags = {}      # repo -> {tag: digest}
        self._images = {}    # repo -> {digest: Image}; kept after a tag moves, as registries do
        self._tokens = {}    # token -> (repos it may pull, monotonic expiry)
        self._pushes = itertools.count(1)
        for repo, tag, size_mb in seed:
            self.push(repo, tag, size_mb)

    def push(self, repo, tag, size_mb=None):
        """Create ``repo:tag`` or move it to a new digest; return the digest."""
        if not _REPO_RE.match(repo):
            raise ValueError(f"invalid repository name '{repo}'")
        if not _TAG_RE.match(tag):
            raise ValueError(f"invalid tag '{tag}'")
        with self._lock:
            tags = self._tags.setdefault(repo, {})
            images = self._images.setdefault(repo, {})
            if size_mb is None:
                size_mb = images[tags[tag]].size // 1024 ** 2 if tag in tags else DEFAULT_SIZE_MB
            body = _index(repo, tag, next(self._pushes))
            digest = "sha256:" + hashlib.sha256(body).hexdigest()
            images[digest] = Image(digest, body, int(size_mb) * 1024 ** 2)
            tags[tag] = digest
            return digest

    def delete(self, repo, tag):
        """Remove the tag; its manifest stays reachable by digest."""
        with self._lock:
            if tag not in self._tags.get(repo, {}):
                raise KeyError(f"tag '{repo}:{tag}' does not exist")
            del self._tags[repo][tag]

    def digest(self, repo, tag):
        with self._lock:
            return self._tags.get(repo, {}).get(tag)

    def tags(self):
        with self._lock:
            return {repo: dict(tags) for repo, tags in self._tags.items()}

    def manifest(self, repo, reference):
        """The image for a tag or ``sha256:`` digest, or RegistryError as the registry answers."""
        with self._lock:
            if repo not in self._images:
                raise RegistryError(404, "NAME_UNKNOWN", "repository name not known to registry", {"Name": repo})
            if reference.startswith("sha256:"):
                image = self._images[repo].get(reference)
                detail = {"Name": repo, "Revision": reference}
            else:
                image = self._images[repo].get(self._tags[repo].get(reference))
                detail = {"Tag": reference}
            if image is None:
                raise RegistryError(404, "MANIFEST_UNKNOWN", "manifest unknown", detail)
            return image

    # -- tokens --------------------------------------------------------------------------
    def issue_token(self, scopes):
        repos = set()
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            repo, _, actions = rest.rpartition(":")
            if kind == "repository" and "pull" in actions.split(","):
                repos.add(repo)
        token = secrets.token_urlsafe(32)
        now = time.monotonic()
        with self._lock:
            self._tokens = {t: v for t, v in self._tokens.items() if v[1] > now}
            self._tokens[token] = (frozenset(repos), now + TOKEN_LIFETIME)
        return {"token": token, "access_token": token, "expires_in": TOKEN_LIFETIME,
                "issued_at": datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")}

    def token_allows(self, token, repo=None):
        """Any unexpired token opens ``/v2/``; a repository needs a token with its pull scope."""
        with self._lock:
            entry = self._tokens.get(token)
        return entry is not None and entry[1] > time.monotonic() and (repo is None or repo in entry[0])


def _index(repo, tag, push):
    # repo, tag and the push counter are in the body so that every push yields a new digest
    platform = hashlib.sha256(f"{repo}:{tag}:{push}:linux/amd64".encode()).hexdigest()
    doc = {"schemaVersion": 2, "mediaType": INDEX_TYPE,
           "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                          "digest": f"sha256:{platform}", "size": 1024,
                          "platform": {"architecture": "amd64", "os": "linux"}}],
           "annotations": {"org.opencontainers.image.ref.name": tag, "io.pvesim.repository": repo,
                           "io.pvesim.push": str(push)}}
    return json.dumps(doc, indent=2, sort_keys=True).encode()


# -- HTTP ------------------------------------------------------------------------------------
def handle(registry, method, path, query, headers, host):
    """Answer a request below ``/registry``: ``(template, status, [(header, value)], body)``.

    HEAD gets the same headers and Content-Length as GET; the server leaves out the body.
    """
    path = path[len(PREFIX):]
    if path == "/token":
        if method not in ("GET", "HEAD"):
            return PREFIX + "/token", *_unsupported()
        scopes = [v for k, v in parse_qsl(query or "") if k == "scope"]
        return PREFIX + "/token", 200, [("Content-Type", "application/json")], _json(registry.issue_token(scopes))
    api = [("Docker-Distribution-API-Version", "registry/2.0")]
    challenge = f'Bearer realm="https://{host}{PREFIX}/token",service="{SERVICE}"'
    m = re.match(r"^Bearer\s+(\S+)$", headers.get("Authorization") or "", re.I)
    token = m.group(1) if m else None
    if path in ("/v2", "/v2/"):
        template = PREFIX + "/v2/"
        if method not in ("GET", "HEAD"):
            return template, *_unsupported(api)
        if not registry.token_allows(token):
            return template, *_error(401, "UNAUTHORIZED", "authentication required", None,
                                     api + [("WWW-Authenticate", challenge)])
        return template, 200, api + [("Content-Type", "application/json")], b"{}"
    m = _MANIFEST_PATH.match(path)
    if m is None:
        return None, 404, [("Content-Type", "text/plain; charset=utf-8")], b"404 page not found\n"
    template = PREFIX + "/v2/{name}/manifests/{reference}"
    if method not in ("GET", "HEAD"):
        return template, *_unsupported(api)
    repo, reference = m.groups()
    if not registry.token_allows(token, repo):
        scope = f"repository:{repo}:pull"
        detail = [{"Type": "repository", "Class": "", "Name": repo, "Action": "pull"}]
        return template, *_error(401, "UNAUTHORIZED", "authentication required", detail,
                                 api + [("WWW-Authenticate", f'{challenge},scope="{scope}"')])
    try:
        image = registry.manifest(repo, reference)
    except RegistryError as exc:
        return template, *_error(exc.status, exc.code, exc.message, exc.detail, api)
    return template, 200, api + [("Content-Type", INDEX_TYPE), ("Docker-Content-Digest", image.digest)], image.body


def _json(data):
    return json.dumps(data, separators=(",", ":")).encode()


def _error(status, code, message, detail, headers):
    body = _json({"errors": [{"code": code, "message": message, "detail": detail}]})
    return status, headers + [("Content-Type", "application/json")], body


def _unsupported(headers=()):
    return _error(405, "UNSUPPORTED", "The operation is unsupported.", None, list(headers))
