"""The simulated OCI registry (a stand-in for Docker Hub) and oci-registry-pull from it."""

import hashlib

import pytest
import requests
from proxmoxer import ResourceException

from tests.pvesim.helpers import SCHEMA, until, wait, wait_ok

INDEX_TYPE = "application/vnd.oci.image.index.v1+json"


def get(sim, path, token=None, method="GET", **kw):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, f"{sim.registry_url}{path}", headers=headers, verify=sim.ca_cert_path,
                            timeout=10, **kw)


def pull_token(sim, repo):
    r = get(sim, "/token", params={"service": "pvesim-registry", "scope": f"repository:{repo}:pull"})
    assert r.status_code == 200
    return r.json()["token"]


def manifest(sim, repo, reference, method="GET"):
    return get(sim, f"/v2/{repo}/manifests/{reference}", pull_token(sim, repo), method=method)


def task_log(prox, upid):
    return [line["t"] for line in prox.nodes("pve").tasks(upid).log.get()]


def test_token_flow(sim):
    r = get(sim, "/v2/")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == (
        f'Bearer realm="https://127.0.0.1:{sim.port}/registry/token",service="pvesim-registry"')
    assert r.json() == {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required", "detail": None}]}
    r = get(sim, "/token", params={"service": "pvesim-registry", "scope": "repository:library/nginx:pull"})
    assert r.status_code == 200
    body = r.json()
    assert body["token"] == body["access_token"] and body["expires_in"] == 300 and body["issued_at"]
    r = get(sim, "/v2/", body["token"])
    assert (r.status_code, r.json()) == (200, {})
    assert get(sim, "/v2/", "made-up-token").status_code == 401


def test_head_and_get_give_the_same_digest(sim):
    head = manifest(sim, "library/nginx", "1.27", method="HEAD")
    got = manifest(sim, "library/nginx", "1.27")
    assert head.status_code == got.status_code == 200
    assert head.content == b""
    digest = got.headers["Docker-Content-Digest"]
    assert head.headers["Docker-Content-Digest"] == digest == sim.registry_digest("library/nginx", "1.27")
    assert head.headers["Content-Type"] == got.headers["Content-Type"] == INDEX_TYPE
    assert int(head.headers["Content-Length"]) == int(got.headers["Content-Length"]) == len(got.content)
    assert digest == "sha256:" + hashlib.sha256(got.content).hexdigest()
    index = got.json()
    assert index["mediaType"] == INDEX_TYPE and index["schemaVersion"] == 2
    by_digest = manifest(sim, "library/nginx", digest)
    assert by_digest.status_code == 200 and by_digest.content == got.content


def test_repository_names_with_slashes(sim):
    r = manifest(sim, "mattermost/mattermost-team-edition", "10.5")
    assert r.status_code == 200
    assert r.headers["Docker-Content-Digest"] == sim.registry_digest("mattermost/mattermost-team-edition", "10.5")


def test_unknown_tag_and_repository(sim):
    r = manifest(sim, "library/nginx", "9.9")
    assert r.status_code == 404
    assert r.json() == {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown",
                                    "detail": {"Tag": "9.9"}}]}
    r = manifest(sim, "library/nope", "1")
    assert r.status_code == 404
    error = r.json()["errors"][0]
    assert (error["code"], error["message"]) == ("NAME_UNKNOWN", "repository name not known to registry")
    head = manifest(sim, "library/nginx", "9.9", method="HEAD")
    assert head.status_code == 404 and head.content == b""


def test_token_for_one_repository_does_not_open_another(sim):
    token = pull_token(sim, "library/nginx")
    assert get(sim, "/v2/library/nginx/manifests/1.27", token).status_code == 200
    r = get(sim, "/v2/library/redis/manifests/7", token)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == (
        f'Bearer realm="https://127.0.0.1:{sim.port}/registry/token",service="pvesim-registry",'
        'scope="repository:library/redis:pull"')
    assert r.json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert get(sim, "/v2/library/redis/manifests/7", method="HEAD").status_code == 401


def test_push_moves_the_tag_and_reset_restores_it(sim):
    old = sim.registry_digest("library/nginx", "1.27")
    new = sim.registry_push("library/nginx", "1.27")
    assert new != old and new.startswith("sha256:")
    assert manifest(sim, "library/nginx", "1.27").headers["Docker-Content-Digest"] == new
    assert manifest(sim, "library/nginx", old).status_code == 200  # old manifests stay reachable by digest
    sim.registry_delete("library/nginx", "1.27")
    assert sim.registry_digest("library/nginx", "1.27") is None
    assert manifest(sim, "library/nginx", "1.27").status_code == 404
    with pytest.raises(KeyError):
        sim.registry_delete("library/nginx", "1.27")
    sim.reset()
    assert sim.registry_digest("library/nginx", "1.27") == old


def test_control_api(sim, raw):
    r = raw("POST", "/_sim/registry", json={"repo": "acme/app", "tag": "v1", "size_mb": 12})
    digest = r.json()["data"]
    assert r.status_code == 200 and digest == sim.registry_digest("acme/app", "v1")
    state = raw("GET", "/_sim/registry").json()["data"]
    assert state["acme/app"] == {"v1": digest} and "alpine" in state["library/nginx"]
    assert sim.state()["registry"]["acme/app"] == {"v1": digest}
    assert raw("DELETE", "/_sim/registry", params={"repo": "acme/app", "tag": "v1"}).status_code == 200
    assert raw("DELETE", "/_sim/registry", params={"repo": "acme/app", "tag": "v1"}).status_code == 404
    assert raw("POST", "/_sim/registry", json={"repo": "Acme", "tag": "v1"}).status_code == 400
    assert raw("POST", "/_sim/registry", json={"repo": "acme/app"}).json()["errors"] == {
        "tag": "property is missing and it is not optional"}
    assert raw("POST", "/_sim/registry", auth=False, json={"repo": "acme/app", "tag": "v2"}).status_code == 401


def test_registry_requests_are_counted(sim):
    manifest(sim, "library/nginx", "1.27", method="HEAD")
    counts = sim.request_counts()
    assert counts["GET /registry/token"] == 1
    assert counts["HEAD /registry/v2/{name}/manifests/{reference}"] == 1


def test_oci_pull_records_the_digest(sim, prox):
    digest = sim.registry_digest("library/nginx", "1.27")
    upid = prox.nodes("pve").storage("local").post("oci-registry-pull", reference="docker.io/library/nginx:1.27")
    wait_ok(prox, upid)
    log = task_log(prox, upid)
    assert log[:2] == ["Pulling image 'docker.io/library/nginx:1.27'", f"Digest: {digest}"]
    vols = {c["volid"]: c for c in prox.nodes("pve").storage("local").content.get(content="vztmpl")}
    vol = vols["local:vztmpl/nginx_1.27.tar"]
    assert set(vol) == {"volid", "content", "format", "size", "ctime"}
    assert (vol["format"], vol["size"]) == ("tar", 68 * 1024 ** 2)


def test_oci_pull_short_names_and_other_hosts(sim, prox):
    storage = prox.nodes("pve").storage("local")
    upid = storage.post("oci-registry-pull", reference="redis:7")
    wait_ok(prox, upid)
    assert f"Digest: {sim.registry_digest('library/redis', '7')}" in task_log(prox, upid)
    sim.registry_push("acme/app", "v1", size_mb=5)
    upid = storage.post("oci-registry-pull", reference="ghcr.io/acme/app:v1", filename="app")
    wait_ok(prox, upid)
    vols = {c["volid"]: c for c in storage.content.get(content="vztmpl")}
    assert vols["local:vztmpl/app.tar"]["size"] == 5 * 1024 ** 2


def test_oci_pull_of_unknown_tag_or_repository_fails(sim, prox):
    storage = prox.nodes("pve").storage("local")
    status = wait(prox, storage.post("oci-registry-pull", reference="nginx:9.9"))
    assert status["exitstatus"] == "failed to pull OCI image 'docker.io/library/nginx:9.9': manifest unknown"
    status = wait(prox, storage.post("oci-registry-pull", reference="ghcr.io/acme/nope:1"))
    assert status["exitstatus"] == ("failed to pull OCI image 'ghcr.io/acme/nope:1': "
                                    "repository name not known to registry")
    vols = [c["volid"] for c in storage.content.get(content="vztmpl")]
    assert "local:vztmpl/nginx_9.9.tar" not in vols


def test_tag_moved_during_pull_keeps_the_digest_resolved_at_start(sim, prox):
    sim.set_time_scale(0.05)
    pinned = sim.registry_digest("library/postgres", "17")
    upid = prox.nodes("pve").storage("local").post("oci-registry-pull", reference="postgres:17")
    until(lambda: any(line.startswith("Digest:") for line in task_log(prox, upid)))
    moved = sim.registry_push("library/postgres", "17")
    wait_ok(prox, upid)
    assert f"Digest: {pinned}" in task_log(prox, upid)
    assert sim.registry_digest("library/postgres", "17") == moved != pinned


@pytest.mark.skipif(SCHEMA is None, reason="apidata.json not found (set PVESIM_SCHEMA)")
def test_schema_accepts_tags_and_rejects_digest_references(sim, prox):
    storage = prox.nodes("pve").storage("local")
    wait_ok(prox, storage.post("oci-registry-pull", reference="docker.io/library/nginx:1.27"))
    digest = sim.registry_digest("library/nginx", "1.27")
    with pytest.raises(ResourceException) as exc:
        storage.post("oci-registry-pull", reference=f"docker.io/library/nginx@{digest}")
    assert exc.value.status_code == 400 and "reference" in exc.value.errors
