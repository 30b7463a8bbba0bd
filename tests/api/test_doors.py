"""Every action the contract or the role guards is refused the same way in the browser and in the API.

One table, one row per guarded action, each with its browser door and its API door. The last test
makes sure a new action is classified here, so it cannot be forgotten.
"""

import inspect

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from provisioning import actions
from provisioning.models import Backup, BackupPolicy, Image, Operation, Server, Snapshot
from tenants.models import Duty, Membership, Party, Responsibility, Role
from tests.conftest import make_user


@pytest.fixture
def world(tenant_a, make_server, offline_cluster, offline_image):
    production = make_server(tenant_a, "app")
    staging = make_server(tenant_a, "app-staging", staging_of=production)
    Snapshot.objects.create(server=production, name="known_good", ready=True)
    backup = Backup.objects.create(
        tenant=tenant_a, server=production, cluster=offline_cluster, node="pve1", storage="backup",
        volid="backup:backup/vzdump-lxc-200-2026_12_01-02_00_00.tar.zst", kind="lxc", hostname="app",
        created_at=timezone.now(),
    )
    offline_cluster.shared_storages = ["backup"]
    offline_cluster.save()
    other_image = Image.objects.create(cluster=offline_cluster, name="Debian 13 (container)", kind=Image.Kind.LXC,
                                       volid="local:vztmpl/debian-13.tar.zst", min_disk_gb=2)
    return {"server": production, "staging": staging, "backup": backup, "image": other_image}


def _policy():
    return {"enabled": "on", "frequency": "daily", "weekday": "0", "time": "03:00", "keep_last": "3",
            "keep_daily": "7", "keep_weekly": "4", "keep_monthly": "0"}


# action -> (browser: url name, url kwargs, form data), (API: method, path, body); None where a door is missing.
DOORS = {
    "snapshot_create": (
        ("provisioning:snapshot_create", lambda w: {"public_id": w["server"].public_id}, lambda w: {"name": "mine"}),
        ("post", lambda w: f"/api/v1/servers/{w['server'].public_id}/snapshots/", lambda w: {"name": "mine"}),
    ),
    "snapshot_delete": (
        ("provisioning:snapshot_delete", lambda w: {"public_id": w["server"].public_id, "name": "known_good"}, lambda w: {}),
        ("delete", lambda w: f"/api/v1/servers/{w['server'].public_id}/snapshots/known_good/", lambda w: None),
    ),
    "snapshot_before_update": (
        ("provisioning:snapshot_before_update", lambda w: {"public_id": w["server"].public_id}, lambda w: {}),
        ("post", lambda w: f"/api/v1/servers/{w['server'].public_id}/snapshot-before-update/", lambda w: {}),
    ),
    "snapshot_rollback": (
        ("provisioning:snapshot_rollback", lambda w: {"public_id": w["server"].public_id, "name": "known_good"},
         lambda w: {"start": "on"}),
        ("post", lambda w: f"/api/v1/servers/{w['server'].public_id}/snapshots/known_good/rollback/", lambda w: {}),
    ),
    "backup_restore_same": (
        ("provisioning:backup_restore", lambda w: {"public_id": w["backup"].public_id},
         lambda w: {"target": "same", "confirm": "on"}),
        ("post", lambda w: f"/api/v1/backups/{w['backup'].public_id}/restore/", lambda w: {"target": "same", "confirm": True}),
    ),
    "backup_policy_set": (
        ("provisioning:backup_policy", lambda w: {"public_id": w["server"].public_id}, lambda w: _policy()),
        ("put", lambda w: f"/api/v1/servers/{w['server'].public_id}/backups/policy/",
         lambda w: {"enabled": True, "frequency": "daily", "weekday": 0, "time": "03:00", "keep_last": 3,
                    "keep_daily": 7, "keep_weekly": 4, "keep_monthly": 0}),
    ),
    "backup_delete": (
        ("provisioning:backup_delete", lambda w: {"public_id": w["backup"].public_id}, lambda w: {}),
        ("delete", lambda w: f"/api/v1/backups/{w['backup'].public_id}/", lambda w: None),
    ),
    "backup_protect": (
        ("provisioning:backup_protect", lambda w: {"public_id": w["backup"].public_id}, lambda w: {"protected": "1"}),
        ("post", lambda w: f"/api/v1/backups/{w['backup'].public_id}/protect/", lambda w: {"protected": True}),
    ),
    "server_reinstall": (
        ("provisioning:server_reinstall", lambda w: {"public_id": w["server"].public_id},
         lambda w: {"image": w["image"].pk, "confirm": "on"}),
        ("post", lambda w: f"/api/v1/servers/{w['server'].public_id}/reinstall/", lambda w: {"image": str(w["image"].public_id)}),
    ),
    "server_delete": (
        ("provisioning:server_delete", lambda w: {"public_id": w["server"].public_id}, lambda w: {"confirm_hostname": "app"}),
        ("delete", lambda w: f"/api/v1/servers/{w['server'].public_id}/", lambda w: None),
    ),
    "staging_promote": (
        ("provisioning:staging_promote", lambda w: {"public_id": w["staging"].public_id}, lambda w: {}),
        ("post", lambda w: f"/api/v1/servers/{w['staging'].public_id}/promote/", lambda w: {}),
    ),
}

# Actions a customer may take whatever the contract says, with their doors checked for roles only.
NO_DUTY = {"server_create", "server_power", "server_resize", "server_rename", "server_set_auto_restart",
           "backup_create", "backup_restore", "ha_set", "staging_create",
           # The console: a browser's ticket, no API door (provisioning/actions/console.py says why no duty).
           "console_open",
           # The firewall is the customer's own, like power and resize (issue 21).
           "firewall_set", "firewall_rule_add", "firewall_rule_delete", "firewall_rule_move", "firewall_preset_apply",
           "address_set_save", "address_set_delete", "security_group_save", "security_group_delete",
           # Reverse DNS names of the customer's own addresses (issue 21).
           "ptr_set", "ptr_delete"}
# JIKU's own actions: the admin and the staff pages, never a customer door.
STAFF_ONLY = {"appliance_import", "image_approve", "image_await_on", "image_fetch_to_new_nodes", "oci_import",
              "template_from_server", "backups_expire", "node_drain", "server_migrate", "operation_retry",
              "cluster_reconcile", "cluster_test_connection", "drift_ignore", "drift_mark_deleted",
              "node_set_maintenance", "node_maintenance_announce", "operation_cancel", "server_adopt", "tenant_suspend", "tenant_unsuspend",
              "node_register_vds", "node_check_joined", "drain_next", "console_end",
              # The periodic re-check of pending reverse DNS names (beat); staff rewriting a drifted firewall.
              "ptrs_recheck", "firewall_rewrite",
              # The sweep moving backup schedules into a tenant's newly chosen time zone.
              "backup_schedules_follow_zones"}
# Helpers the package exports that are not actions (checks, queries).
NOT_ACTIONS = {"check_quota", "quota_usage", "reserve_server", "validate_hostname", "validate_server_password",
               "validate_size", "check_reason", "adopt_defaults", "jiku_holds", "managed_actions", "jiku_actions", "console_allowed",
               "firewall_of", "management_reachable", "preset_rules", "rule_specs", "validate_ptr_name"}


def _everything_at_jiku(tenant):
    for duty in Duty.values:
        Responsibility.objects.update_or_create(tenant=tenant, duty=duty, defaults={"party": Party.JIKU})


def _browser(client, action, w):
    (name, kwargs, data), _api = DOORS[action]
    return client.post(reverse(name, kwargs=kwargs(w)), data(w))


def _api(api, action, w):
    _browser_door, (method, path, body) = DOORS[action]
    payload = body(w)
    return getattr(api, method)(path(w), payload, format="json") if payload is not None else getattr(api, method)(path(w))


def _state(w):
    return (Operation.objects.count(), Snapshot.objects.count(), Backup.objects.kept().count(),
            list(Server.objects.order_by("pk").values_list("status", "hostname", "image_id", "staging_of_id")))


@pytest.mark.parametrize("action", sorted(DOORS))
def test_what_the_contract_gives_to_jiku_is_refused_in_the_browser_and_the_api(action, world, tenant_a, bob, api_for):
    _everything_at_jiku(tenant_a)
    before = _state(world)
    browser = Client()
    browser.force_login(bob)
    response = _browser(browser, action, world)
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("JIKU manages this" in m for m in messages), (action, response.status_code, messages)
    api_response = _api(api_for(bob, tenant_a), action, world)
    assert api_response.status_code == 403, (action, api_response.status_code, api_response.content)
    assert api_response.json()["code"] == "managed_by_jiku"
    assert _state(world) == before


@pytest.mark.parametrize("action", sorted(DOORS))
def test_a_viewer_is_refused_in_the_browser_and_the_api(action, world, tenant_a, bob, api_for):
    Membership.objects.filter(tenant=tenant_a, user=bob).update(role=Role.VIEWER)
    before = _state(world)
    browser = Client()
    browser.force_login(bob)
    assert _browser(browser, action, world).status_code == 403
    assert _api(api_for(bob, tenant_a), action, world).status_code == 403
    assert _state(world) == before


def test_jiku_staff_may_do_what_the_contract_gives_to_jiku(world, tenant_a):
    _everything_at_jiku(tenant_a)
    staff = make_user("jiku-staff@example.com", is_staff=True)
    op = actions.snapshot_create(server=world["server"], name="by_jiku", user=staff)
    assert op.kind == Operation.Kind.SNAPSHOT


def test_a_customer_who_holds_the_duty_may_act(world, tenant_a, bob):
    Responsibility.objects.create(tenant=tenant_a, duty=Duty.SNAPSHOTS, party=Party.CUSTOMER)
    assert actions.snapshot_create(server=world["server"], name="mine", user=bob).kind == Operation.Kind.SNAPSHOT


def test_every_action_is_classified_so_none_is_forgotten():
    exported = {name for name, value in vars(actions).items() if inspect.isfunction(value) and not name.startswith("_")}
    guarded = {"backup_restore" if a == "backup_restore_same" else a for a in actions.CUSTOMER_DUTIES}
    unclassified = exported - guarded - NO_DUTY - STAFF_ONLY - NOT_ACTIONS
    assert not unclassified, f"classify these actions in tests/api/test_doors.py and duties.py: {unclassified}"
    assert set(DOORS) == set(actions.CUSTOMER_DUTIES)


# --- rules that once lived only in forms ------------------------------------------------------------
@pytest.mark.parametrize("password, message", [("password", "too common"), ("short-pw", "at least 10"),
                                               ("12345678901", "entirely numeric")])
def test_a_weak_server_password_is_refused_at_the_field_in_the_api(alice_api, ct_plan, offline_image, password, message):
    response = alice_api.post("/api/v1/servers/", {"plan": str(ct_plan.public_id), "image": str(offline_image.public_id),
                                                   "hostname": "web", "password": password}, format="json")
    assert response.status_code == 400, response.content
    assert message in " ".join(response.json()["errors"]["password"])
    assert not Server.objects.exists()


@pytest.mark.parametrize("field, value", [("keep_daily", 1_000_000_000), ("keep_last", 101), ("weekday", 7)])
def test_backup_policy_limits_hold_in_the_api(alice_api, world, field, value):
    body = {"enabled": True, "frequency": "daily", "weekday": 0, "time": "03:00", "keep_last": 3, "keep_daily": 7,
            "keep_weekly": 4, "keep_monthly": 0, field: value}
    response = alice_api.put(f"/api/v1/servers/{world['server'].public_id}/backups/policy/", body, format="json")
    assert response.status_code == 400 and field in response.json()["errors"], response.content
    assert not BackupPolicy.objects.exists()


def test_the_database_refuses_a_policy_no_door_should_have_let_through(world):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        BackupPolicy.objects.create(server=world["server"], keep_daily=1000)


@pytest.mark.parametrize("field, value", [("cores", 65), ("memory_mb", 128), ("disk_gb", 5000)])
def test_sizes_outside_the_limits_are_refused_by_the_action(world, field, value):
    from django.core.exceptions import ValidationError

    size = {"cores": 1, "memory_mb": 1024, "disk_gb": 10, field: value}
    with pytest.raises(ValidationError) as info:
        actions.server_resize(server=world["server"], **size)
    assert field in info.value.message_dict


def test_the_contract_page_lists_what_jiku_does_instead_of_the_team(world, tenant_a, alice_client):
    Responsibility.objects.create(tenant=tenant_a, duty=Duty.PROVISIONING, party=Party.JIKU)
    page = alice_client.get(reverse("services:contract")).content.decode()
    assert "delete a server" in page and "reinstall a server" in page and "take snapshots" not in page


def test_a_managed_customer_still_discards_their_own_staging_copy(world, tenant_a, bob, api_for):
    _everything_at_jiku(tenant_a)
    response = api_for(bob, tenant_a).delete(f"/api/v1/servers/{world['staging'].public_id}/")
    assert response.status_code == 202, response.content
