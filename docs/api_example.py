"""Automating with the API: create a container, wait for it, snapshot it, delete it.

Needs only Python and `requests`. Make a token on the portal's "API tokens" page, then:

    export JIKU_API=https://cloud.example.net/api/v1
    export JIKU_TOKEN=jiku_...
    python api_example.py
"""

import os
import secrets
import sys
import time
import uuid

import requests

API = os.environ.get("JIKU_API", "http://127.0.0.1:8000/api/v1").rstrip("/")
POLL_SECONDS = float(os.environ.get("JIKU_POLL", "2"))

session = requests.Session()
session.headers["Authorization"] = f"Bearer {os.environ['JIKU_TOKEN']}"


def call(method, path, **kwargs):
    response = session.request(method, API + path, timeout=30, **kwargs)
    if response.status_code == 429:  # throttled: wait as told, then try once more
        time.sleep(int(response.headers.get("Retry-After", "5")))
        response = session.request(method, API + path, timeout=30, **kwargs)
    if response.status_code >= 400:
        sys.exit(f"{method} {path} -> {response.status_code}: {response.text}")
    return response


def wait(operation, timeout=900):
    """Poll an operation (every long action answers 202 with one) until it has finished."""
    deadline = time.monotonic() + timeout
    while operation["state"] in ("queued", "running", "waiting"):
        if time.monotonic() > deadline:
            sys.exit(f"{operation['kind']} did not finish in time")
        time.sleep(POLL_SECONDS)
        operation = call("GET", f"/operations/{operation['id']}/").json()
        print(f"  {operation['kind']}: {operation['state']} {operation['step_label']}")
    if operation["state"] != "succeeded":
        sys.exit(f"{operation['kind']} failed: {operation['error']}")
    return operation


def main(hostname="api-demo", snapshot=True):
    plan = call("GET", "/plans/", params={"kind": "lxc"}).json()["results"][0]
    image = call("GET", "/images/", params={"kind": "lxc"}).json()["results"][0]
    print(f"Ordering {hostname}: {plan['name']} with {image['name']}")
    # The Idempotency-Key makes a retried POST (after a timeout, say) return the first answer.
    operation = call("POST", "/servers/", headers={"Idempotency-Key": str(uuid.uuid4())}, json={
        "plan": plan["id"], "image": image["id"], "hostname": hostname, "password": secrets.token_urlsafe(16),
    }).json()
    server_id = operation["server"]
    wait(operation)
    server = call("GET", f"/servers/{server_id}/").json()
    print(f"{server['hostname']} is {server['status']} at {server['ipv4']}")

    if snapshot:
        operation = call("POST", f"/servers/{server_id}/snapshots/", json={"name": "before-update"}).json()
        wait(operation)
        print("Snapshot before-update taken")

    wait(call("DELETE", f"/servers/{server_id}/").json())
    print(f"{hostname} deleted")


if __name__ == "__main__":
    main(*sys.argv[1:2])
