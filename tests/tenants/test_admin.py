import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tenants.audit import audit_record
from tenants.models import AuditEvent


@pytest.fixture
def staff_client(client, db):
    client.force_login(get_user_model().objects.create_superuser("staff", "staff@jiku.example", "x"))
    return client


@pytest.mark.parametrize("model", ["tenant", "membership", "invitation", "sshkey", "responsibility", "auditevent"])
def test_staff_browse_every_tenants_model(staff_client, tenant_a, model):
    assert staff_client.get(reverse(f"admin:tenants_{model}_changelist") + "?q=alpha").status_code == 200


def test_the_tenant_page_lists_its_members_inline(staff_client, tenant_a):
    page = staff_client.get(reverse("admin:tenants_tenant_change", args=[tenant_a.pk])).content.decode()
    assert "alice" in page and "bob" in page


def test_audit_events_are_read_only_even_for_superusers(staff_client, tenant_a):
    event = audit_record(action="tenant.updated", tenant=tenant_a)
    change = staff_client.post(reverse("admin:tenants_auditevent_change", args=[event.pk]), {"action": "forged"})
    delete = staff_client.post(reverse("admin:tenants_auditevent_delete", args=[event.pk]), {"post": "yes"})
    assert change.status_code == 403 and delete.status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).action == "tenant.updated"
