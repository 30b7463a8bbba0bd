"""Which manifest digest an OCI image tag points at, asked of the registry itself.

Proxmox VE 9.1 pulls OCI images by tag only (its `reference` parameter has no `@sha256:` form),
so the portal pins an image to a digest by asking the registry (OCI distribution API, with
Docker Hub's anonymous token flow) right before and right after Proxmox pulls it.
"""

import re
from dataclasses import dataclass

import requests
from django.conf import settings
from django.utils.translation import gettext as _

# Accept every manifest kind, so the digest is the one `docker pull name@digest` would fetch.
MANIFEST_TYPES = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])
COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY = re.compile(rf"^{COMPONENT}(?:/{COMPONENT})*$")
TAG = re.compile(r"^\w[\w.-]{0,127}$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
TIMEOUT = 15


class RegistryError(Exception):
    def __init__(self, message, *, retryable=False):
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class Reference:
    host: str
    repository: str
    tag: str
    digest: str = ""

    @property
    def pull_name(self):
        """What Proxmox is told to pull: host/repository:tag, never the digest."""
        return f"{self.host}/{self.repository}:{self.tag}"

    @property
    def filename(self):
        return f"{self.repository.replace('/', '-')}_{self.tag}.tar"

    def __str__(self):
        return self.pull_name + (f"@{self.digest}" if self.digest else "")


def parse(text):
    """`nginx:1.27`, `docker.io/library/nginx:1.27` or `ghcr.io/org/app:v2@sha256:...`; ValueError if not."""
    text = text.strip()
    name, _at, digest = text.partition("@")
    if digest and not DIGEST.match(digest):
        raise ValueError(_("A digest looks like sha256: followed by 64 hexadecimal digits."))
    name, colon, tag = name.rpartition(":")
    if not colon or "/" in tag or not TAG.match(tag):
        raise ValueError(_("Name the image with its tag, e.g. docker.io/library/nginx:1.27."))
    first, slash, rest = name.partition("/")
    # As in Docker: the first part is a registry only if it looks like a host name.
    if slash and ("." in first or ":" in first or first == "localhost"):
        host, repository = first, rest
    else:
        host, repository = "docker.io", name
    if host == "docker.io" and "/" not in repository:
        repository = f"library/{repository}"
    if not REPOSITORY.match(repository):
        raise ValueError(_("Image names use lower-case letters, digits and the separators . _ - /."))
    return Reference(host=host, repository=repository, tag=tag, digest=digest)


def _verify():
    return settings.OCI_REGISTRY_CA or True


def _request(method, url, **kwargs):
    try:
        return requests.request(method, url, timeout=TIMEOUT, verify=_verify(), **kwargs)
    except requests.RequestException as exc:
        raise RegistryError(_("The registry cannot be reached: %(error)s") % {"error": exc}, retryable=True) from exc


def _token(challenge, repository):
    """Docker Hub's anonymous pull token, fetched from the realm the 401 named."""
    fields = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    if not challenge.lower().startswith("bearer") or "realm" not in fields:
        raise RegistryError(_("The registry wants a login the portal does not have."))
    params = {"scope": fields.get("scope", f"repository:{repository}:pull")}
    if fields.get("service"):
        params["service"] = fields["service"]
    response = _request("GET", fields["realm"], params=params)
    if response.status_code != 200:
        raise RegistryError(_("The registry refused a pull token (HTTP %(status)s).") % {"status": response.status_code})
    body = response.json()
    return body.get("token") or body.get("access_token", "")


def resolve(reference):
    """The digest the registry names for reference's tag right now."""
    base = settings.OCI_REGISTRY_ENDPOINTS.get(reference.host, f"https://{reference.host}").rstrip("/")
    url = f"{base}/v2/{reference.repository}/manifests/{reference.tag}"
    headers = {"Accept": MANIFEST_TYPES}
    response = _request("HEAD", url, headers=headers)
    if response.status_code == 401:
        token = _token(response.headers.get("WWW-Authenticate", ""), reference.repository)
        response = _request("HEAD", url, headers={**headers, "Authorization": f"Bearer {token}"})
    if response.status_code == 404:
        raise RegistryError(_("The registry does not know %(image)s.") % {"image": reference.pull_name})
    if response.status_code != 200:
        raise RegistryError(
            _("The registry answered HTTP %(status)s for %(image)s.") % {"status": response.status_code, "image": reference.pull_name},
            retryable=response.status_code == 429 or response.status_code >= 500,
        )
    digest = response.headers.get("Docker-Content-Digest", "")
    if not DIGEST.match(digest):
        raise RegistryError(_("The registry named no sha256 digest for %(image)s.") % {"image": reference.pull_name})
    return digest
