"""Events come from where things happen: the engine's end of an operation, reconcile, requests,
the team. Operations run in the test's thread against pvesim (as in test_recipes_inline); one
test takes the whole real path through a Celery worker."""

import datetime
import time
import zoneinfo

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import formats, timezone

from billing import actions as billing
from notifications.actions import notifications_sweep as actions_sweep
from notifications.models import Delivery, Event, MailSettings
from provisioning import actions, engine
from provisioning.models import Backup, Image, Node, Operation, Server
from provisioning.reconcile import reconcile_cluster
from provisioning.tasks import run_backup_policy
from tests.billing.conftest import at, billable, ordered_server
from tests.conftest import client_for
from tests.provisioning.conftest import DEBIAN_CT, make_cluster, wait_for
from tests.provisioning.test_recipes_inline import drive
from tests.provisioning.test_reconcile import prox

from .conftest import deliver


@pytest.fixture
def inline_cluster(db, pve):
    return make_cluster(pve)


@pytest.fixture
def ct(inline_cluster):
    return Image.objects.create(
        cluster=inline_cluster, name="Debian 12 (container)", kind=Image.Kind.LXC, volid=DEBIAN_CT, min_disk_gb=2
    )


def order(tenant, image, hostname="files"):
    return actions.server_create(
        tenant=tenant, image=image, hostname=hostname, cores=1, memory_mb=1024, disk_gb=8, password="s3cret-pass-9"
    )


def built(tenant, image, hostname="files"):
    server = order(tenant, image, hostname)
    assert drive(server.operations.get()).state == Operation.State.SUCCEEDED
    server.refresh_from_db()
    return server


def kinds():
    return list(Event.objects.order_by("pk").values_list("kind", flat=True))


def mails(address):
    return [m for m in mail.outbox if m.to == [address]]


def test_it_mails_the_team_when_a_server_is_built(tenant_a, ct):
    server = built(tenant_a, ct)
    assert kinds() == ["server_built"]
    deliver()
    message = mails("alice@example.com")[0]
    assert message.subject == "[JIKU Cloud] Server files is ready"
    assert "Address: 192.0.2.10" in message.body and f"/servers/{server.public_id}/" in message.body
    assert len(mails("bob@example.com")) == 1


def test_it_mails_the_owner_when_a_build_fails_and_staff_read_proxmoxs_text(tenant_a, ct, pve, dora, sam):
    pve.add_fault(method="POST", path=r"/lxc$", task_error="storage 'local-lvm' is full")
    drive(order(tenant_a, ct).operations.get())
    assert kinds() == ["staff_operation_failed", "server_build_failed"]
    deliver()
    customer = mails("alice@example.com")[0]
    assert customer.subject == "[JIKU Cloud] Server files could not be built"
    assert "everything reserved for it was released" in customer.body and "local-lvm" not in customer.body
    staff = mails("dora@jiku.example")[0]
    assert staff.subject == "[JIKU Cloud] Operation failed: Create files"
    assert "storage 'local-lvm' is full" in staff.body
    assert mails("sam@jiku.example") == []  # sales have no operations right


def test_staff_hear_once_of_an_operation_that_stalled_however_often_the_sweep_finds_it(tenant_a, ct, dora, sam,
                                                                                      settings):
    server = order(tenant_a, ct)
    op = server.operations.get()
    engine.sweep()
    assert "staff_operation_stalled" not in kinds()  # queued a moment ago is not stalled
    long_ago = op.created_at - datetime.timedelta(seconds=settings.PROVISIONING_STALL_SECONDS + 60)
    Operation.objects.filter(pk=op.pk).update(created_at=long_ago, updated_at=long_ago,
                                              last_error="connection to pve refused")
    engine.sweep()
    engine.sweep()  # still stuck: told once
    assert kinds().count("staff_operation_stalled") == 1
    deliver()
    staff = mails("dora@jiku.example")
    assert [m.subject for m in staff] == ["[JIKU Cloud] Operation stalled: Create files"]
    assert "connection to pve refused" in staff[0].body and "/staff/operations/" in staff[0].body
    assert mails("sam@jiku.example") == [] and mails("alice@example.com") == []


def test_a_restore_is_reported_when_it_is_done_and_when_it_failed(tenant_a, ct, pve):
    server = built(tenant_a, ct)
    assert drive(actions.backup_create(server=server)).state == Operation.State.SUCCEEDED
    backup = Backup.objects.get(server=server)
    drive(actions.backup_restore(backup=backup, target="same", confirm=True))
    pve.add_fault(method="POST", path=r"/lxc$", task_error="unable to restore: archive is corrupt")
    drive(actions.backup_restore(backup=backup, target="same", confirm=True))
    assert kinds() == ["server_built", "restore_done", "staff_operation_failed", "restore_failed"]
    Event.objects.exclude(kind__startswith="restore").delete()
    deliver()
    done, failed = mails("alice@example.com")
    assert done.subject == "[JIKU Cloud] Restore of files finished" and str(backup) in done.body
    assert failed.subject == "[JIKU Cloud] Restore of files failed" and "archive is corrupt" not in failed.body


def test_a_scheduled_backup_is_mailed_to_managers_only_when_its_retry_failed_too(tenant_a, ct, pve):
    server = built(tenant_a, ct)
    actions.backup_policy_set(server=server, frequency="daily", time=datetime.time(2, 0))
    pve.add_fault(method="POST", path=r"/vzdump$", task_error="job errors", count=2)
    run_backup_policy(server.pk)
    drive(Operation.objects.filter(kind="backup").latest("id"))
    assert "backup_failed" not in kinds()  # it is tried again a little later
    run_backup_policy(server.pk, True)
    drive(Operation.objects.filter(kind="backup").latest("id"))
    assert kinds().count("backup_failed") == 1
    Event.objects.exclude(kind="backup_failed").delete()
    deliver()
    assert [m.subject for m in mails("alice@example.com")] == ["[JIKU Cloud] Scheduled backup of files failed"]
    assert mails("bob@example.com") == []  # members are not told by default


def test_managers_hear_when_scheduled_backups_work_again_after_a_failure_they_were_told_of(tenant_a, ct, pve):
    server = built(tenant_a, ct)
    actions.backup_policy_set(server=server, frequency="daily", time=datetime.time(2, 0))
    run_backup_policy(server.pk)
    drive(Operation.objects.filter(kind="backup").latest("id"))
    assert "backup_recovered" not in kinds()  # nothing had failed
    pve.add_fault(method="POST", path=r"/vzdump$", task_error="job errors", count=3)
    run_backup_policy(server.pk)
    drive(Operation.objects.filter(kind="backup").latest("id"))
    run_backup_policy(server.pk, True)
    drive(Operation.objects.filter(kind="backup").latest("id"))
    run_backup_policy(server.pk)  # the next day: the first try fails, the retry works
    drive(Operation.objects.filter(kind="backup").latest("id"))
    run_backup_policy(server.pk, True)
    drive(Operation.objects.filter(kind="backup").latest("id"))
    assert [k for k in kinds() if k.startswith("backup")] == ["backup_failed", "backup_recovered"]
    run_backup_policy(server.pk)
    drive(Operation.objects.filter(kind="backup").latest("id"))
    assert kinds().count("backup_recovered") == 1  # told once, not on every good night
    Event.objects.exclude(kind="backup_recovered").delete()
    deliver()
    assert [m.subject for m in mails("alice@example.com")] == ["[JIKU Cloud] Scheduled backup of files works again"]
    assert mails("bob@example.com") == []


def test_node_failure_unavailable_back_again_and_ha_moves_are_told(tenant_a, ct, inline_cluster, pve):
    Node.objects.filter(cluster=inline_cluster).exclude(name="pve2").update(maintenance=True)
    ha, plain = built(tenant_a, ct, "ha"), built(tenant_a, ct, "plain")
    Node.objects.update(maintenance=False)
    assert drive(actions.ha_set(server=ha, enabled=True)).state == Operation.State.SUCCEEDED
    Event.objects.all().delete()
    pve.fail_node("pve2")
    wait_for(lambda: any(g["vmid"] == ha.vmid and g["node"] != "pve2" and g["status"] == "running"
                         for g in pve.state()["guests"]), message="HA recovery")
    reconcile_cluster(inline_cluster)
    assert sorted(kinds()) == ["server_ha_moved", "server_unavailable", "staff_node_offline"]
    pve.recover_node("pve2")
    pve.wait_idle()
    reconcile_cluster(inline_cluster)
    reconcile_cluster(inline_cluster)  # nothing changed: nothing new to tell
    plain.refresh_from_db()
    assert plain.status == Server.Status.RUNNING
    assert kinds()[3:] == ["server_available"]
    deliver()
    subjects = [m.subject for m in mails("alice@example.com")]
    assert "[JIKU Cloud] Server plain is unavailable" in subjects
    assert "[JIKU Cloud] Server ha was moved to another node" in subjects
    assert "[JIKU Cloud] Server plain is available again" in subjects
    unavailable = next(m for m in mails("alice@example.com") if m.subject.endswith("plain is unavailable"))
    assert "Node pve2 is offline" in unavailable.body
    assert [m.subject for m in mails("bob@example.com")].count("[JIKU Cloud] Server ha was moved to another node") == 0


def test_staff_hear_of_a_new_request_and_the_customer_of_the_answer(tenant_a, alice, bob, dora, otto):
    tenant_a.responsibilities.create(duty="backups", party="jiku")
    response = client_for(bob).post(reverse("tenants:request_create"),
                                    {"duty": "backups", "subject": "Restore <yesterday> & more", "message": "Please."})
    assert response.status_code == 302
    assert kinds() == ["staff_request_new"]
    deliver()
    assert mails("otto@jiku.example")[0].subject == "[JIKU Cloud] New service request from Alpha GmbH: Restore <yesterday> & more"
    due = timezone.localtime(tenant_a.service_requests.get().respond_by, zoneinfo.ZoneInfo(tenant_a.time_zone))
    assert f"Priority: Normal. Answer by {formats.date_format(due, 'DATETIME_FORMAT')} (response time 48 hours)." in \
        mails("otto@jiku.example")[0].body  # the self-service default (tenant without a contract)
    req = tenant_a.service_requests.get()
    prefix = str(req.public_id)
    client_for(dora).post(reverse("staff:request_answer", args=[req.public_id]),
                          {f"{prefix}-state": "done", f"{prefix}-answer": "Restored at 10:00."})
    assert kinds() == ["staff_request_new", "request_answered"]
    Event.objects.filter(kind="staff_request_new").delete()
    deliver()
    answer = mails("bob@example.com")[0]
    assert answer.subject == "[JIKU Cloud] JIKU answered your request: Restore <yesterday> & more"
    assert "Restored at 10:00." in answer.body and "State: Done" in answer.body


@pytest.mark.django_db(transaction=True)
def test_a_build_mail_arrives_through_the_real_worker_exactly_once_in_each_readers_language(
        tenant_a, ct_image, cluster, worker, bob):
    MailSettings.objects.create(user=bob, language="de")
    server = order(tenant_a, ct_image)
    wait_for(lambda: len(mails("alice@example.com")) == 1 and len(mails("bob@example.com")) == 1, timeout=60,
             message="the build mails")
    assert mails("alice@example.com")[0].subject == "[JIKU Cloud] Server files is ready"
    assert mails("bob@example.com")[0].subject == "[JIKU Cloud] Server files ist bereit"
    assert server.operations.get().state == Operation.State.SUCCEEDED
    wait_for(lambda: Delivery.objects.filter(event__kind="server_built", state="sent").count() == 2,
             message="both deliveries marked sent")
    actions_sweep()  # nothing is left to pick up: nobody gets a second mail
    time.sleep(1)
    assert len(mail.outbox) == 2


@pytest.mark.django_db(transaction=True)
def test_an_event_whose_task_was_lost_is_delivered_once_by_the_sweep(tenant_a, worker):
    # As if the worker died between the commit and the fan-out: the row is there, no task is.
    event = Event.objects.create(tenant=tenant_a, kind="server_built", payload={"server": "files"})
    Event.objects.filter(pk=event.pk).update(created_at=event.created_at - datetime.timedelta(minutes=5))
    actions_sweep()
    wait_for(lambda: len(mail.outbox) == 2, message="the swept event's mails")
    wait_for(lambda: Delivery.objects.filter(state="sent").count() == 2, message="both marked sent")
    actions_sweep()
    time.sleep(1)
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "bob@example.com"]


def test_owners_and_admins_hear_of_an_issued_invoice_and_its_reminders(tenant_a, rows_cluster, plans):
    billable(tenant_a)
    ordered_server(tenant_a, rows_cluster, plans["vm-m"], "web", built=at(2026, 3, 1))
    invoice = billing.invoice_issue(invoice=billing.invoice_draft(tenant=tenant_a, year=2026, month=4))
    billing.dunning_run(today=invoice.due_date + datetime.timedelta(days=7))
    billing.dunning_run(today=invoice.due_date + datetime.timedelta(days=8))  # nothing new is due
    assert kinds() == ["invoice_issued", "payment_reminder"]
    deliver()
    subjects = [m.subject for m in mails("alice@example.com")]
    assert subjects == [f"[JIKU Cloud] Invoice {invoice.number}", f"[JIKU Cloud] Payment reminder 1 for invoice {invoice.number}"]
    assert f"{invoice.gross:.2f} EUR" in mails("alice@example.com")[0].body
    assert mails("bob@example.com") == []  # members do not see billing


def test_staff_hear_of_a_server_stopping_unexpectedly_drift_and_a_node_going_offline(tenant_a, ct, inline_cluster,
                                                                                     pve, otto):
    Node.objects.filter(cluster=inline_cluster).exclude(name="pve").update(maintenance=True)
    server = built(tenant_a, ct)
    Event.objects.all().delete()
    api = prox(pve)
    api.nodes(server.node.name).lxc(server.vmid).status.stop.post()  # behind the portal's back
    api.nodes("pve3").lxc.post(vmid=4000, ostemplate=DEBIAN_CT, hostname="rogue")
    pve.wait_idle()
    reconcile_cluster(inline_cluster)
    reconcile_cluster(inline_cluster)  # nothing new: told once
    assert sorted(kinds()) == ["staff_drift_found", "staff_server_stopped"]
    pve.fail_node("pve3")
    reconcile_cluster(inline_cluster)
    reconcile_cluster(inline_cluster)
    assert kinds().count("staff_node_offline") == 1
    deliver()
    subjects = [m.subject for m in mails("otto@jiku.example")]
    assert "[JIKU Cloud] Server files of Alpha GmbH stopped unexpectedly" in subjects
    assert "[JIKU Cloud] Drift in Test: 1 guest" in subjects
    assert "[JIKU Cloud] Node pve3 (Test) is offline" in subjects
    assert mails("alice@example.com") == []  # staff news, not the customer's


def test_staff_announce_maintenance_to_the_tenants_with_servers_on_the_node(tenant_a, tenant_b, rows_cluster, dora):
    node = rows_cluster.nodes.get()
    for tenant, name in ((tenant_a, "web"), (tenant_a, "db")):
        Server.objects.create(tenant=tenant, cluster=rows_cluster, node=node, kind="qemu", hostname=name, cores=1,
                              memory_mb=1024, disk_gb=10, status="running")
    response = client_for(dora).post(reverse("staff:node_announce", args=[node.pk]), {
        "starts_at": "2030-01-05T22:00", "ends_at": "2030-01-06T02:00", "note": "New disks & firmware."})
    assert response.status_code == 302
    assert kinds() == ["maintenance_planned"]  # Bravo has nothing on the node
    assert Event.objects.get().payload["servers"] == ["db", "web"]
    deliver()
    message = mails("alice@example.com")[0]
    assert message.subject == "[JIKU Cloud] Planned maintenance from 5 Jan 2030, 22:00"
    assert "- db\n- web" in message.body and "New disks & firmware." in message.body
    assert mails("charlie@example.com") == []


def test_maintenance_in_the_past_is_not_announced(tenant_a, rows_cluster, dora):
    node = rows_cluster.nodes.get()
    client_for(dora).post(reverse("staff:node_announce", args=[node.pk]),
                          {"starts_at": "2020-01-05T22:00", "ends_at": "2020-01-06T02:00"})
    assert kinds() == []
