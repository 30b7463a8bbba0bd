"""Every event through the real path: the thing happens (an operation a Celery worker runs against
pvesim, the reconcile, a request, the team, billing), the event is recorded with it, and the same
worker fans it out and mails it. Each reader gets it once, in their own language: bob and some
staff read German, alice English."""

import datetime
import zoneinfo

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import formats, timezone, translation

from billing import actions as billing
from notifications.actions import notifications_sweep as actions_sweep
from notifications.models import Delivery, Event, MailSettings
from provisioning import actions, engine
from provisioning.models import Backup, Node, Operation, Server
from provisioning.reconcile import reconcile_cluster
from provisioning.tasks import run_backup_policy
from tenants import actions as tenant_actions
from tests.billing.conftest import at, billable, ordered_server
from tests.conftest import client_for
from tests.provisioning.conftest import DEBIAN_CT, notifications_settled, wait_done, wait_for
from tests.provisioning.test_reconcile import prox

pytestmark = pytest.mark.django_db(transaction=True)

SUCCEEDED, FAILED = Operation.State.SUCCEEDED, Operation.State.FAILED


@pytest.fixture(autouse=True)
def bob_reads_german(bob):
    reads_german(bob)


def reads_german(user):
    MailSettings.objects.update_or_create(user=user, defaults={"language": "de"})


def order(tenant, image, hostname="files"):
    return actions.server_create(
        tenant=tenant, image=image, hostname=hostname, cores=1, memory_mb=1024, disk_gb=8, password="s3cret-pass-9"
    )


def built(tenant, image, hostname="files"):
    server = order(tenant, image, hostname)
    op = wait_done(server.operations.get(), timeout=60)
    assert op.state == SUCCEEDED, op.error
    server.refresh_from_db()
    return server


def mails(address):
    return [m for m in mail.outbox if m.to == [address]]


def subjects(address):
    return sorted(m.subject for m in mails(address))


def arrived(address, count=1):
    """The worker's mails to one address, once `count` of them came."""
    wait_for(lambda: len(mails(address)) >= count, timeout=60, message=f"{count} mail(s) to {address}")
    return mails(address)


def quiet():
    """What happened so far is delivered; count the mails afresh from here."""
    notifications_settled()
    mail.outbox.clear()


def delivered_once():
    """Everything recorded is delivered, and nobody got the same mail twice."""
    notifications_settled()
    assert not Delivery.objects.exclude(state=Delivery.State.SENT).exists()
    assert len({(m.to[0], m.subject) for m in mail.outbox}) == len(mail.outbox)


def test_the_team_is_told_a_server_is_built_each_in_their_language(tenant_a, ct_image, worker):
    server = built(tenant_a, ct_image)
    (to_alice,) = arrived("alice@example.com")
    assert to_alice.subject == "[JIKU Cloud] Server files is ready"
    assert "Address: 192.0.2.10" in to_alice.body and f"/servers/{server.public_id}/" in to_alice.body
    (to_bob,) = arrived("bob@example.com")
    assert to_bob.subject == "[JIKU Cloud] Server files ist bereit" and "192.0.2.10" in to_bob.body
    delivered_once()
    actions_sweep(older_than_seconds=0)  # nothing is left to pick up: nobody gets a second mail
    delivered_once()
    assert len(mail.outbox) == 2


def test_a_failed_build_is_told_to_the_team_without_proxmoxs_text_and_to_staff_with_it(tenant_a, ct_image, pve,
                                                                                         worker, dora, sam):
    pve.add_fault(method="POST", path=r"/lxc$", task_error="storage 'local-lvm' is full")
    assert wait_done(order(tenant_a, ct_image).operations.get(), timeout=60).state == FAILED
    (customer,) = arrived("alice@example.com")
    assert customer.subject == "[JIKU Cloud] Server files could not be built"
    assert "everything reserved for it was released" in customer.body and "local-lvm" not in customer.body
    assert arrived("bob@example.com")[0].subject == "[JIKU Cloud] Server files konnte nicht gebaut werden"
    (staff,) = arrived("dora@jiku.example")
    assert staff.subject == "[JIKU Cloud] Operation failed: Create files"
    assert "storage 'local-lvm' is full" in staff.body
    delivered_once()
    assert mails("sam@jiku.example") == []  # sales have no operations right


def test_staff_hear_once_of_an_operation_stalled_while_proxmox_cannot_be_reached(tenant_a, ct_image, pve, worker,
                                                                                dora, otto, sam, settings):
    reads_german(otto)
    pve.go_down()
    op = order(tenant_a, ct_image).operations.get()
    wait_for(lambda: Operation.objects.get(pk=op.pk).last_error, message="the worker finding Proxmox unreachable")
    engine.sweep()
    assert not Event.objects.filter(kind="staff_operation_stalled").exists()  # one error a second ago is no stall
    long_ago = op.created_at - datetime.timedelta(seconds=settings.PROVISIONING_STALL_SECONDS + 60)
    Operation.objects.filter(pk=op.pk).update(created_at=long_ago)
    engine.sweep()
    engine.sweep()  # still stuck: told once
    (to_dora,) = arrived("dora@jiku.example")
    assert to_dora.subject == "[JIKU Cloud] Operation stalled: Create files"
    error = Event.objects.get(kind="staff_operation_stalled").payload["error"]
    assert error and error in to_dora.body and "/staff/operations/" in to_dora.body
    assert arrived("otto@jiku.example")[0].subject == "[JIKU Cloud] Vorgang hängt: Erstellen files"
    pve.come_up()
    assert wait_done(op, timeout=90).state == SUCCEEDED  # the worker kept trying
    delivered_once()
    assert subjects("dora@jiku.example") == ["[JIKU Cloud] Operation stalled: Create files"]
    assert mails("sam@jiku.example") == []


def test_a_restore_is_told_when_it_is_done_and_when_it_failed(tenant_a, ct_image, pve, worker):
    server = built(tenant_a, ct_image)
    assert wait_done(actions.backup_create(server=server), timeout=60).state == SUCCEEDED
    backup = Backup.objects.get(server=server)
    quiet()
    assert wait_done(actions.backup_restore(backup=backup, target="same", confirm=True), timeout=60).state == SUCCEEDED
    pve.add_fault(method="POST", path=r"/lxc$", task_error="unable to restore: archive is corrupt")
    assert wait_done(actions.backup_restore(backup=backup, target="same", confirm=True), timeout=60).state == FAILED
    done, failed = sorted(arrived("alice@example.com", 2), key=lambda m: "failed" in m.subject)
    assert done.subject == "[JIKU Cloud] Restore of files finished" and str(backup) in done.body
    assert failed.subject == "[JIKU Cloud] Restore of files failed" and "archive is corrupt" not in failed.body
    arrived("bob@example.com", 2)
    assert subjects("bob@example.com") == ["[JIKU Cloud] Wiederherstellung von files abgeschlossen",
                                           "[JIKU Cloud] Wiederherstellung von files fehlgeschlagen"]
    delivered_once()


def nightly(server, retry=False):
    """Beat's nightly backup of the server (or its retry a little later), run by the worker."""
    run_backup_policy(server.pk, retry) if retry else run_backup_policy(server.pk)
    return wait_done(Operation.objects.filter(kind="backup", server=server).latest("id"), timeout=60)


def test_managers_hear_when_a_scheduled_backup_failed_twice_and_when_it_works_again(tenant_a, ct_image, pve, worker,
                                                                                    alice):
    reads_german(alice)
    server = built(tenant_a, ct_image)
    actions.backup_policy_set(server=server, frequency="daily", time=datetime.time(2, 0))
    assert nightly(server).state == SUCCEEDED  # nothing had failed: nothing to tell
    quiet()
    pve.add_fault(method="POST", path=r"/vzdump$", task_error="job errors", count=2)
    assert nightly(server).state == FAILED
    assert "backup_failed" not in Event.objects.values_list("kind", flat=True)  # it is tried again a little later
    assert nightly(server, retry=True).state == FAILED
    assert arrived("alice@example.com")[0].subject == "[JIKU Cloud] Geplante Sicherung von files fehlgeschlagen"
    assert nightly(server).state == SUCCEEDED
    assert nightly(server).state == SUCCEEDED  # told once, not on every good night
    arrived("alice@example.com", 2)
    delivered_once()
    assert subjects("alice@example.com") == ["[JIKU Cloud] Geplante Sicherung von files fehlgeschlagen",
                                             "[JIKU Cloud] Geplante Sicherung von files funktioniert wieder"]
    assert mails("bob@example.com") == []  # members are not told by default


def test_a_node_failure_the_ha_move_and_the_return_are_told(tenant_a, ct_image, cluster, pve, worker):
    Node.objects.filter(cluster=cluster).exclude(name="pve2").update(maintenance=True)
    ha, plain = built(tenant_a, ct_image, "ha"), built(tenant_a, ct_image, "plain")
    Node.objects.update(maintenance=False)
    assert wait_done(actions.ha_set(server=ha, enabled=True), timeout=60).state == SUCCEEDED
    quiet()
    pve.fail_node("pve2")
    wait_for(lambda: any(g["vmid"] == ha.vmid and g["node"] != "pve2" and g["status"] == "running"
                         for g in pve.state()["guests"]), message="HA recovery")
    reconcile_cluster(cluster)
    arrived("alice@example.com", 2)
    pve.recover_node("pve2")
    pve.wait_idle()
    reconcile_cluster(cluster)
    reconcile_cluster(cluster)  # nothing changed: nothing new to tell
    plain.refresh_from_db()
    assert plain.status == Server.Status.RUNNING
    arrived("alice@example.com", 3)
    delivered_once()
    assert subjects("alice@example.com") == ["[JIKU Cloud] Server ha was moved to another node",
                                             "[JIKU Cloud] Server plain is available again",
                                             "[JIKU Cloud] Server plain is unavailable"]
    unavailable = next(m for m in mails("alice@example.com") if m.subject.endswith("plain is unavailable"))
    assert "Node pve2 is offline" in unavailable.body
    # Members hear of their server's outage; the HA move is for the managers.
    assert subjects("bob@example.com") == ["[JIKU Cloud] Server plain ist nicht erreichbar",
                                           "[JIKU Cloud] Server plain ist wieder erreichbar"]


def test_staff_hear_of_a_new_request_and_the_customer_of_the_answer(tenant_a, alice, bob, dora, otto, worker):
    reads_german(otto)
    tenant_a.responsibilities.create(duty="backups", party="jiku")
    response = client_for(bob).post(reverse("tenants:request_create"),
                                    {"duty": "backups", "subject": "Restore <yesterday> & more", "message": "Please."})
    assert response.status_code == 302
    (to_dora,) = arrived("dora@jiku.example")
    assert to_dora.subject == "[JIKU Cloud] New service request from Alpha GmbH: Restore <yesterday> & more"
    due = timezone.localtime(tenant_a.service_requests.get().respond_by, zoneinfo.ZoneInfo(tenant_a.time_zone))
    assert f"Priority: Normal. Answer by {formats.date_format(due, 'DATETIME_FORMAT')} (response time 48 hours)." in \
        to_dora.body  # the self-service default (tenant without a contract)
    assert arrived("otto@jiku.example")[0].subject == \
        "[JIKU Cloud] Neue Serviceanfrage von Alpha GmbH: Restore <yesterday> & more"
    req = tenant_a.service_requests.get()
    prefix = str(req.public_id)
    client_for(dora).post(reverse("staff:request_answer", args=[req.public_id]),
                          {f"{prefix}-state": "done", f"{prefix}-answer": "Restored at 10:00."})
    (answer,) = arrived("bob@example.com")
    assert answer.subject == "[JIKU Cloud] JIKU hat Ihre Anfrage beantwortet: Restore <yesterday> & more"
    assert "Restored at 10:00." in answer.body
    delivered_once()


def test_an_invitation_is_mailed_in_the_inviters_language_and_the_owner_hears_of_the_new_member(
        tenant_a, alice, charlie, worker):
    with translation.override("de"):
        tenant_actions.invitation_create(tenant=tenant_a, email="eve@example.com", role="admin", invited_by=alice,
                                         request=None)
    (to_eve,) = arrived("eve@example.com")
    assert to_eve.subject == "[JIKU Cloud] Einladung zu Alpha GmbH" and "als Admin" in to_eve.body
    with translation.override("en"):
        invitation = tenant_actions.invitation_create(tenant=tenant_a, email="charlie@example.com", role="member",
                                                      invited_by=alice, request=None)
    assert arrived("charlie@example.com")[0].subject == "[JIKU Cloud] Invitation to Alpha GmbH"
    tenant_actions.invitation_accept(invitation=invitation, user=charlie, request=None)
    (joined,) = arrived("alice@example.com")
    assert joined.subject == "[JIKU Cloud] New member in Alpha GmbH" and "charlie@example.com" in joined.body
    delivered_once()
    assert mails("bob@example.com") == []  # the team's security news is for its managers


def test_managers_hear_of_an_issued_invoice_and_its_reminder(tenant_a, alice, rows_cluster, plans, worker):
    reads_german(alice)
    billable(tenant_a)
    ordered_server(tenant_a, rows_cluster, plans["vm-m"], "web", built=at(2026, 3, 1))
    invoice = billing.invoice_issue(invoice=billing.invoice_draft(tenant=tenant_a, year=2026, month=4))
    (issued,) = arrived("alice@example.com")
    assert issued.subject == f"[JIKU Cloud] Rechnung {invoice.number}"
    billing.dunning_run(today=invoice.due_date + datetime.timedelta(days=7))
    billing.dunning_run(today=invoice.due_date + datetime.timedelta(days=8))  # nothing new is due
    arrived("alice@example.com", 2)
    delivered_once()
    assert subjects("alice@example.com") == [f"[JIKU Cloud] Rechnung {invoice.number}",
                                             f"[JIKU Cloud] Zahlungserinnerung 1 zur Rechnung {invoice.number}"]
    assert mails("bob@example.com") == []  # members do not see billing


def test_staff_hear_of_a_server_stopping_unexpectedly_drift_and_a_node_going_offline(tenant_a, ct_image, cluster,
                                                                                     pve, worker, otto, dora):
    reads_german(otto)
    Node.objects.filter(cluster=cluster).exclude(name="pve").update(maintenance=True)
    server = built(tenant_a, ct_image)
    quiet()
    api = prox(pve)
    api.nodes(server.node.name).lxc(server.vmid).status.stop.post()  # behind the portal's back
    api.nodes("pve3").lxc.post(vmid=4000, ostemplate=DEBIAN_CT, hostname="rogue")
    pve.wait_idle()
    reconcile_cluster(cluster)
    reconcile_cluster(cluster)  # nothing new: told once
    pve.fail_node("pve3")
    reconcile_cluster(cluster)
    reconcile_cluster(cluster)
    arrived("dora@jiku.example", 3)
    delivered_once()
    assert subjects("dora@jiku.example") == ["[JIKU Cloud] Drift in Test: 1 guest",
                                             "[JIKU Cloud] Node pve3 (Test) is offline",
                                             "[JIKU Cloud] Server files of Alpha GmbH stopped unexpectedly"]
    assert subjects("otto@jiku.example") == ["[JIKU Cloud] Abweichung in Test: 1 Gast",
                                             "[JIKU Cloud] Knoten pve3 (Test) ist offline",
                                             "[JIKU Cloud] Server files von Alpha GmbH unerwartet gestoppt"]
    assert mails("alice@example.com") == []  # staff news, not the customer's


def test_staff_announce_maintenance_to_the_tenants_with_servers_on_the_node(tenant_a, tenant_b, rows_cluster, dora,
                                                                         worker):
    node = rows_cluster.nodes.get()
    for tenant, name in ((tenant_a, "web"), (tenant_a, "db")):
        Server.objects.create(tenant=tenant, cluster=rows_cluster, node=node, kind="qemu", hostname=name, cores=1,
                              memory_mb=1024, disk_gb=10, status="running")
    response = client_for(dora).post(reverse("staff:node_announce", args=[node.pk]), {
        "starts_at": "2030-01-05T22:00", "ends_at": "2030-01-06T02:00", "note": "New disks & firmware."})
    assert response.status_code == 302
    assert Event.objects.get().payload["servers"] == ["db", "web"]
    (message,) = arrived("alice@example.com")
    assert message.subject == "[JIKU Cloud] Planned maintenance from 5 Jan 2030, 22:00"
    assert "- db\n- web" in message.body and "New disks & firmware." in message.body
    assert arrived("bob@example.com")[0].subject == "[JIKU Cloud] Geplante Wartung ab 05.01.2030 22:00"
    delivered_once()
    assert mails("charlie@example.com") == []  # Bravo has nothing on the node


def test_maintenance_in_the_past_is_not_announced(tenant_a, rows_cluster, dora):
    node = rows_cluster.nodes.get()
    client_for(dora).post(reverse("staff:node_announce", args=[node.pk]),
                          {"starts_at": "2020-01-05T22:00", "ends_at": "2020-01-06T02:00"})
    assert not Event.objects.exists()


def test_an_event_whose_task_was_lost_is_delivered_once_by_the_sweep(tenant_a, worker):
    # As if the worker died between the commit and the fan-out: the row is there, no task is.
    event = Event.objects.create(tenant=tenant_a, kind="server_built", payload={"server": "files"})
    Event.objects.filter(pk=event.pk).update(created_at=event.created_at - datetime.timedelta(minutes=5))
    actions_sweep()
    arrived("alice@example.com")
    arrived("bob@example.com")
    actions_sweep()
    delivered_once()
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "bob@example.com"]
