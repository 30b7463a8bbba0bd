"""Snapshots and backups over the API, with the browser's rules: roles, tenants, confirmations."""

from provisioning import actions
from provisioning.models import Backup, Operation, Server
from tests.provisioning.conftest import wait_done


def built(tenant, image):
    server = actions.server_create(tenant=tenant, image=image, hostname="web-01", cores=1, memory_mb=512, disk_gb=8, password="long-enough")
    wait_done(server.operations.get())
    server.refresh_from_db()
    return server


def done(response):
    assert response.status_code == 202, response.content
    op = wait_done(Operation.objects.get(public_id=response.json()["id"]))
    assert op.state == "succeeded", op.error
    return op


def test_snapshot_rollback_and_delete_over_the_api(alice_api, tenant_a, ct_image, pve, worker):
    server = built(tenant_a, ct_image)
    base = f"/api/v1/servers/{server.public_id}/snapshots/"
    done(alice_api.post(base, {"name": "before", "description": "safe"}, format="json"))
    listing = alice_api.get(base).json()["results"]
    assert [(s["name"], s["ready"]) for s in listing] == [("before", True)]
    done(alice_api.post(f"{base}before/rollback/", {"start": True}, format="json"))
    done(alice_api.delete(f"{base}before/"))
    assert alice_api.get(base).json()["results"] == []


def test_bad_snapshot_names_are_field_errors(alice_api, tenant_a, ct_image, pve, worker):
    server = built(tenant_a, ct_image)
    response = alice_api.post(f"/api/v1/servers/{server.public_id}/snapshots/", {"name": "current"}, format="json")
    assert response.status_code == 400 and "name" in response.json()["errors"]


def test_backup_restore_and_protection_over_the_api(alice_api, tenant_a, ct_image, pve, worker):
    server = built(tenant_a, ct_image)
    done(alice_api.post(f"/api/v1/servers/{server.public_id}/backups/", {"notes": "api"}, format="json"))
    backup = alice_api.get("/api/v1/backups/").json()["results"][0]
    assert backup["notes"] == "api" and backup["server"] == str(server.public_id)
    same = alice_api.post(f"/api/v1/backups/{backup['id']}/restore/", {"target": "same"}, format="json")
    assert same.status_code == 400 and "confirm" in same.json()["errors"]
    op = done(alice_api.post(f"/api/v1/backups/{backup['id']}/restore/", {"target": "new", "hostname": "copy"}, format="json"))
    assert Server.objects.get(pk=op.server_id).status == "running"
    done(alice_api.post(f"/api/v1/backups/{backup['id']}/protect/", {"protected": True}, format="json"))
    refused = alice_api.delete(f"/api/v1/backups/{backup['id']}/")
    assert refused.status_code == 400 and "protected" in refused.json()["detail"]


def test_the_backup_schedule_over_the_api(alice_api, tenant_a, ct_image, pve, worker):
    server = built(tenant_a, ct_image)
    url = f"/api/v1/servers/{server.public_id}/backups/policy/"
    assert alice_api.get(url).json()["enabled"] is False
    response = alice_api.put(url, {"enabled": True, "frequency": "weekly", "weekday": 4, "time": "01:30", "keep_last": 2,
                                   "keep_daily": 0, "keep_weekly": 4, "keep_monthly": 1}, format="json")
    assert response.status_code == 200 and response.json()["frequency"] == "weekly"
    assert server.backup_policy.periodic_task.crontab.hour == "1"


def test_other_tenants_and_viewers_cannot_touch_snapshots_or_backups(alice_api, charlie_api, api_for, bob, tenant_a, ct_image, pve, worker):
    server = built(tenant_a, ct_image)
    done(alice_api.post(f"/api/v1/servers/{server.public_id}/backups/", {}, format="json"))
    backup = Backup.objects.get()
    for method, url in [
        ("get", f"/api/v1/servers/{server.public_id}/snapshots/"),
        ("post", f"/api/v1/servers/{server.public_id}/snapshots/"),
        ("get", f"/api/v1/backups/{backup.public_id}/"),
        ("post", f"/api/v1/backups/{backup.public_id}/restore/"),
        ("delete", f"/api/v1/backups/{backup.public_id}/"),
    ]:
        assert getattr(charlie_api, method)(url, {"name": "x", "target": "new", "hostname": "x"}, format="json").status_code == 404
    assert charlie_api.get("/api/v1/backups/").json()["results"] == []
    viewer = api_for(bob, tenant_a, role="viewer")
    assert viewer.get("/api/v1/backups/").status_code == 200
    assert viewer.post(f"/api/v1/servers/{server.public_id}/snapshots/", {"name": "x"}, format="json").status_code == 403
    assert viewer.delete(f"/api/v1/backups/{backup.public_id}/").status_code == 403
