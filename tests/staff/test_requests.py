"""Customers ask JIKU for duties JIKU holds; staff queue, assign and answer; the customer reads the answer."""

import pytest
from django.urls import reverse

from tenants.models import AuditEvent, Duty, Party, Responsibility, ServiceRequest

pytestmark = pytest.mark.django_db


@pytest.fixture
def jiku_backups(tenant_a):
    Responsibility.objects.create(tenant=tenant_a, duty=Duty.BACKUPS, party=Party.JIKU)


def ask(client, **data):
    return client.post(reverse("tenants:request_create"), {"duty": "backups", "subject": "Restore yesterday", "message": "please", **data})


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


def test_a_tenant_without_jiku_duties_is_told_so(charlie_client):
    response = charlie_client.get(reverse("tenants:request_create"))
    assert response.status_code == 302 and not ServiceRequest.objects.exists()


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
    page = alice_client.get(reverse("provisioning:server_detail", args=[server.public_id])).content.decode()
    assert f"{reverse('tenants:request_create')}?duty=backups&amp;server={server.public_id}&amp;name={server.hostname}" in page
    assert "?duty=snapshots" not in page, "the customer takes snapshots themselves"
