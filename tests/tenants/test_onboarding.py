from django.urls import reverse

from tenants.models import AuditEvent, Membership, Role, Tenant
from tests.conftest import make_tenant, make_user

ONBOARDING = reverse("tenants:onboarding")


def test_a_user_without_tenant_is_sent_to_onboarding(client, db):
    client.force_login(make_user("dora@example.com"))
    assert client.get(reverse("dashboard"))["Location"] == ONBOARDING


def test_onboarding_creates_a_tenant_owned_by_the_user(client, db):
    dora = make_user("dora@example.com")
    client.force_login(dora)
    response = client.post(ONBOARDING, {"name": "Dora's Bäckerei"})
    assert response["Location"] == reverse("dashboard")
    tenant = Tenant.objects.get()
    assert (tenant.name, tenant.slug) == ("Dora's Bäckerei", "doras-backerei")
    assert Membership.objects.get(user=dora).role == Role.OWNER
    assert AuditEvent.objects.filter(action="tenant.created", tenant=tenant, actor=dora).exists()
    assert client.get(reverse("dashboard")).status_code == 200


def test_slugs_are_made_unique(client, db):
    make_tenant("Alpha", "alpha")
    client.force_login(make_user("dora@example.com"))
    client.post(ONBOARDING, {"name": "Alpha"})
    assert Tenant.objects.filter(slug="alpha-2").exists()


def test_a_blank_name_is_refused_at_the_field(client, db):
    client.force_login(make_user("dora@example.com"))
    response = client.post(ONBOARDING, {"name": "   "})
    assert response.context["form"].errors["name"]
    assert Tenant.objects.count() == 0


def test_users_with_a_tenant_skip_onboarding(alice_client):
    assert alice_client.post(ONBOARDING, {"name": "Second"})["Location"] == reverse("dashboard")
    assert Tenant.objects.count() == 1


def test_anonymous_users_must_sign_in_first(client, db):
    assert "/accounts/login/" in client.get(ONBOARDING)["Location"]


def test_switching_between_own_tenants(alice_client, alice, tenant_a):
    second = make_tenant("Zulu AG", "zulu", owner=alice)
    response = alice_client.post(reverse("tenants:switch"), {"tenant": "zulu"})
    assert response["Location"] == reverse("dashboard")
    assert alice_client.get(reverse("dashboard")).context["current_tenant"] == second
    alice_client.post(reverse("tenants:switch"), {"tenant": "alpha"})
    assert alice_client.get(reverse("dashboard")).context["current_tenant"] == tenant_a


def test_switching_to_a_foreign_tenant_is_404(alice_client, tenant_a, tenant_b):
    response = alice_client.post(reverse("tenants:switch"), {"tenant": tenant_b.slug})
    assert response.status_code == 404
    assert alice_client.get(reverse("dashboard")).context["current_tenant"] == tenant_a


def test_switching_keeps_a_local_next_but_not_a_foreign_one(alice_client, alice):
    make_tenant("Zulu AG", "zulu", owner=alice)
    switch = reverse("tenants:switch")
    assert alice_client.post(switch, {"tenant": "zulu", "next": "/team/"})["Location"] == "/team/"
    assert alice_client.post(switch, {"tenant": "zulu", "next": "https://evil.example/"})["Location"] == "/"
