"""Failed and stalled operations: staff see Proxmox's words, retry or cancel, and it is audited."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from provisioning import actions
from provisioning.models import Operation, Server
from tenants.models import AuditEvent

from .conftest import make_servers

pytestmark = pytest.mark.django_db


@pytest.fixture
def server(tenant_a, offline_cluster):
    return make_servers(tenant_a, offline_cluster, 1)[0]


def test_the_page_shows_failed_and_stalled_work_with_proxmox_error_and_task_log(otto_client, server):
    failed = server.operations.get()
    failed.params = {"task_log": "TASK ERROR: storage 'local-lvm' is full"}
    failed.error = "command 'lvcreate' failed: exit code 5"
    failed.save()
    stalled = Operation.objects.create(tenant=server.tenant, server=server, kind=Operation.Kind.STOP, state=Operation.State.WAITING,
                                       last_error="Errors during connection establishment, proxy handler: No route to host")
    old = Operation.objects.create(tenant=server.tenant, server=server, kind=Operation.Kind.REBOOT, state=Operation.State.QUEUED)
    Operation.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timezone.timedelta(hours=1))
    Operation.objects.create(tenant=server.tenant, server=server, kind=Operation.Kind.START, state=Operation.State.QUEUED)
    page = otto_client.get(reverse("staff:operations")).content.decode()
    assert "lvcreate" in page and "storage &#x27;local-lvm&#x27; is full" in page
    assert f"op-{stalled.public_id}" in page and "No route to host" in page
    assert f"op-{old.public_id}" in page
    assert page.count('data-state="queued"') == 1, "a fresh queued operation is not stalled"


def test_retry_requeues_a_failed_operation_and_audits_it(otto_client, server):
    op = server.operations.get()
    response = otto_client.post(reverse("staff:operation_retry", args=[op.public_id]))
    assert response.status_code == 302
    op.refresh_from_db()
    assert op.state == Operation.State.QUEUED and op.error == ""
    event = AuditEvent.objects.get(action="operation.retry")
    assert event.via == AuditEvent.Via.ADMIN and event.actor_label == "otto@jiku.example"


def test_cancel_dismisses_a_failed_operation_only_with_a_reason(otto_client, server):
    op = server.operations.get()
    url = reverse("staff:operation_cancel", args=[op.public_id])
    assert "reason" in otto_client.post(url, follow=True).content.decode()
    op.refresh_from_db()
    assert op.state == Operation.State.FAILED
    otto_client.post(url, {"reason": "Proxmox was down; retried by hand"})
    op.refresh_from_db()
    assert op.state == Operation.State.CANCELLED
    event = AuditEvent.objects.get(action="operation.cancel")
    assert event.via == AuditEvent.Via.ADMIN and event.details["reason"] == "Proxmox was down; retried by hand"


def test_cancel_withdraws_a_queued_delete_and_restores_the_server(server, dora):
    server.operations.all().delete()
    op = actions.server_delete(server=server, confirm_hostname=server.hostname)
    server.refresh_from_db()
    assert server.status == Server.Status.DELETING
    actions.operation_cancel(operation=op, user=dora, reason="customer asked")
    op.refresh_from_db()
    server.refresh_from_db()
    assert op.state == Operation.State.CANCELLED and server.status == Server.Status.RUNNING


def test_running_or_half_done_operations_cannot_be_cancelled(server, dora):
    running = Operation.objects.create(tenant=server.tenant, server=server, kind=Operation.Kind.STOP, state=Operation.State.RUNNING)
    half = Operation.objects.create(tenant=server.tenant, server=server, kind=Operation.Kind.RESIZE, state=Operation.State.WAITING, step=1)
    for op in (running, half):
        with pytest.raises(ValidationError):
            actions.operation_cancel(operation=op, user=dora, reason="customer asked")
        op.refresh_from_db()
        assert op.state != Operation.State.CANCELLED


def test_the_admin_lists_failed_operations_first(dora_client, server):
    Operation.objects.create(tenant=server.tenant, server=server, kind=Operation.Kind.STOP, state=Operation.State.SUCCEEDED)
    response = dora_client.get(reverse("admin:provisioning_operation_changelist"))
    assert [op.state for op in response.context["cl"].result_list][0] == Operation.State.FAILED


def test_admin_retry_action_is_audited_via_admin(dora_client, server):
    op = server.operations.get()
    dora_client.post(reverse("admin:provisioning_operation_changelist"), {"action": "retry", "_selected_action": [op.pk]})
    op.refresh_from_db()
    assert op.state == Operation.State.QUEUED
    assert AuditEvent.objects.get(action="operation.retry").via == AuditEvent.Via.ADMIN


def test_admin_edits_are_audited(dora_client, offline_cluster):
    node = offline_cluster.nodes.get(name="pve2")
    dora_client.post(reverse("admin:provisioning_node_changelist"), {"action": "maintenance_on", "_selected_action": [node.pk]})
    node.refresh_from_db()
    assert node.maintenance
    assert AuditEvent.objects.get(action="node.maintenance_on").via == AuditEvent.Via.ADMIN


def test_inline_changes_in_the_admin_are_audited(dora_client, tenant_a, bob):
    from tenants.models import Membership

    membership = Membership.objects.get(tenant=tenant_a, user=bob)
    url = reverse("admin:tenants_tenant_change", args=[tenant_a.pk])
    form = dora_client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and k in form.fields}
    data.update({
        "memberships-TOTAL_FORMS": 2, "memberships-INITIAL_FORMS": 2,
        "responsibilities-TOTAL_FORMS": 0, "responsibilities-INITIAL_FORMS": 0,
        "servers-TOTAL_FORMS": 0, "servers-INITIAL_FORMS": 0,
    })
    for i, m in enumerate(Membership.objects.filter(tenant=tenant_a).order_by("tenant__name", "user__email")):
        data.update({f"memberships-{i}-id": m.pk, f"memberships-{i}-tenant": tenant_a.pk, f"memberships-{i}-user": m.user_id,
                     f"memberships-{i}-role": "admin" if m == membership else m.role})
    response = dora_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    membership.refresh_from_db()
    assert membership.role == "admin"
    event = AuditEvent.objects.get(action="membership.change")
    assert event.via == AuditEvent.Via.ADMIN and event.tenant == tenant_a
