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


def test_staff_accounts_do_not_create_customer_tenants(db):
    from django.core.exceptions import ValidationError

    from tenants import actions

    staff = make_user("sam@jiku.example", is_staff=True)
    try:
        actions.tenant_create(name="Sam's Test GmbH", owner=staff)
    except ValidationError as exc:
        assert "JIKU staff accounts do not create customer tenants" in " ".join(exc.messages)
    else:
        raise AssertionError("a staff account created a tenant")
    assert Tenant.objects.count() == 0


def test_sales_staff_without_a_tenant_are_pointed_to_their_staff_area(client, db):
    from tenants.staff_roles import SALES
    from tests.conftest import make_staff

    client.force_login(make_staff("sam@jiku.example", SALES))
    response = client.get(reverse("provisioning:server_list"), follow=True)
    assert response.redirect_chain[-1][0] == ONBOARDING
    page = response.content.decode()
    assert "Your staff account" in page and f'href="{reverse("services:offer_list")}"' in page
    assert 'name="name"' not in page and f'href="{reverse("staff:overview")}"' not in page
    assert client.post(ONBOARDING, {"name": "Prospect GmbH"}).status_code == 200
    assert Tenant.objects.count() == 0
    assert client.get(reverse("services:order")).status_code in (302, 403)
    assert Tenant.objects.count() == 0


def test_operators_without_a_tenant_are_pointed_to_the_operations_pages(client, db):
    from tenants.staff_roles import OPERATOR
    from tests.conftest import make_staff

    client.force_login(make_staff("otto@jiku.example", OPERATOR))
    page = client.get(ONBOARDING).content.decode()
    assert f'href="{reverse("staff:overview")}"' in page and f'href="{reverse("services:offer_list")}"' not in page
