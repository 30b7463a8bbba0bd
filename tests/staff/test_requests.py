"""Customers ask JIKU for duties JIKU holds; staff queue, assign and answer; the customer reads the answer."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from tenants import actions
from tenants.models import AuditEvent, Duty, Party, Responsibility, ServiceRequest

pytestmark = pytest.mark.django_db


@pytest.fixture
def jiku_backups(tenant_a):
    Responsibility.objects.create(tenant=tenant_a, duty=Duty.BACKUPS, party=Party.JIKU)


def ask(client, **data):
    return client.post(reverse("tenants:request_create"), {"duty": "backups", "priority": "normal", "subject": "Restore yesterday", "message": "please", **data})


def test_a_member_asks_jiku_for_a_duty_jiku_holds(bob_client, tenant_a, jiku_backups):
    server = "0b7c1f0e-6a35-4c52-9d1d-1b6f3b7c9a11"
    form = bob_client.get(reverse("tenants:request_create"), {"duty": "backups", "server": server, "name": "web-01"})
    assert form.status_code == 200 and "web-01" in form.content.decode()
    response = ask(bob_client, server_public_id=server, server_name="web-01")
    assert response.status_code == 302
    req = ServiceRequest.objects.get()
    assert (req.tenant, req.duty, req.server_name, req.state) == (tenant_a, "backups", "web-01", "open")
    assert AuditEvent.objects.filter(action="request.create", tenant=tenant_a).exists()


def test_duties_the_customer_holds_cannot_be_requested(bob_client, jiku_backups):
    response = ask(bob_client, duty="updates")
    assert response.status_code == 200 and not ServiceRequest.objects.exists()


def test_a_self_service_tenant_can_still_ask_jiku_for_more_quota(charlie_client, tenant_b, settings):
    settings.SERVICE_REQUEST_RESPONSE_HOURS = {"critical": 8, "normal": 48}
    page = charlie_client.get(reverse("tenants:request_create")).content.decode()
    assert "General question, more quota, billing" in page and "within 48 hours" in page
    assert ask(charlie_client, duty="", subject="More quota please").status_code == 302
    req = ServiceRequest.objects.get()
    assert (req.tenant, req.duty) == (tenant_b, "")
    assert abs((req.respond_by - req.created_at) - timedelta(hours=48)) < timedelta(minutes=1)


def test_the_contracts_response_time_runs_as_a_clock_for_staff_and_customer(bob, bob_client, otto_client, otto,
                                                                            tenant_a, jiku_backups):
    actions.response_times_set(tenant=tenant_a, critical_hours=2, normal_hours=8)
    ask(bob_client, priority="critical", subject="Production is down")
    ask(bob_client, subject="Restore yesterday")
    urgent, normal = ServiceRequest.objects.order_by("id")
    assert abs((urgent.respond_by - urgent.created_at) - timedelta(hours=2)) < timedelta(minutes=1)
    assert abs((normal.respond_by - normal.created_at) - timedelta(hours=8)) < timedelta(minutes=1)
    ServiceRequest.objects.filter(pk=normal.pk).update(respond_by=timezone.now() - timedelta(hours=1))
    staff_page = otto_client.get(reverse("staff:requests")).content.decode()
    assert staff_page.index("Restore yesterday") < staff_page.index("Production is down"), "what is due first, first"
    assert "answer overdue by 1" in staff_page and "answer due in 1" in staff_page
    assert "answer overdue by" in bob_client.get(reverse("tenants:request_list")).content.decode()
    actions.service_request_answer(service_request=normal, user=otto, state="in_progress", answer="On it.")
    normal.refresh_from_db()
    assert normal.answered_at is not None and not normal.overdue
    assert "answered" in bob_client.get(reverse("tenants:request_list")).content.decode()


def test_the_action_refuses_a_duty_the_customer_holds_whatever_the_door(bob, tenant_a, jiku_backups):
    with pytest.raises(ValidationError) as info:
        actions.service_request_create(tenant=tenant_a, user=bob, duty="updates", subject="Update it")
    assert "duty" in info.value.message_dict and not ServiceRequest.objects.exists()


def test_staff_assign_and_answer_and_the_customer_sees_it(bob_client, charlie_client, otto_client, otto, jiku_backups):
    ask(bob_client)
    req = ServiceRequest.objects.get()
    assert "Restore yesterday" in otto_client.get(reverse("staff:requests")).content.decode()
    otto_client.post(reverse("staff:request_answer", args=[req.public_id]), {"assign_me": "1"})
    req.refresh_from_db()
    assert req.assignee == otto and req.state == "in_progress"
    prefix = str(req.public_id)
    otto_client.post(reverse("staff:request_answer", args=[req.public_id]),
                     {f"{prefix}-state": "done", f"{prefix}-assignee": otto.pk, f"{prefix}-answer": "Restored to 02:00."})
    req.refresh_from_db()
    assert req.state == "done" and req.done_at is not None
    assert "Restored to 02:00." in bob_client.get(reverse("tenants:request_list")).content.decode()
    assert "Restore yesterday" not in charlie_client.get(reverse("tenants:request_list")).content.decode()
    assert set(AuditEvent.objects.filter(action__in=["request.assign", "request.answer"]).values_list("via", flat=True)) == {"admin"}


def test_viewers_cannot_ask(bob, bob_client, jiku_backups):
    bob.memberships.update(role="viewer")
    assert ask(bob_client).status_code == 403


def test_the_server_page_offers_a_request_where_jiku_holds_the_duty(alice_client, tenant_a, offline_cluster, jiku_backups):
    from .conftest import make_servers

    server = make_servers(tenant_a, offline_cluster, 1)[0]
    page = alice_client.get(reverse("provisioning:server_backups", args=[server.public_id])).content.decode()
    assert f"{reverse('tenants:request_create')}?duty=backups&amp;server={server.public_id}&amp;name={server.hostname}" in page
    page = alice_client.get(reverse("provisioning:server_snapshots", args=[server.public_id])).content.decode()
    assert "?duty=snapshots" not in page, "the customer takes snapshots themselves"


def test_only_staff_can_be_assigned_whatever_the_door(bob, bob_client, otto, jiku_backups):
    ask(bob_client)
    req = ServiceRequest.objects.get()
    with pytest.raises(ValidationError) as info:
        actions.service_request_answer(service_request=req, user=otto, state="in_progress", answer="", assignee=bob)
    assert "assignee" in info.value.message_dict
    req.refresh_from_db()
    assert req.assignee is None and req.state == "open"
