"""Personas: alice owns tenant Alpha, bob is her member, charlie owns tenant Bravo.

JIKU staff (no superusers): dora the admin, otto the operator, sam from sales, bill from billing.
"""

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from tenants.models import Membership, Role, Tenant
from tenants.staff_roles import ADMIN, BILLING, OPERATOR, SALES, sync_groups

PASSWORD = "correct-horse-battery-9"


@pytest.fixture(autouse=True)
def english(settings):
    """Assertions read the English messages; German is tested on its own (tests/portal/test_i18n.py)."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # The personas' passwords are hashed for every test; PBKDF2 would dominate the run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def quick_retries(settings, monkeypatch):
    """Transient faults are retried after a fifth of a second, not two; the backoff's shape stays.

    Set in the environment too, for the worker processes that fault tests start and kill.
    """
    settings.PROVISIONING_RETRY_SECONDS = 0.2
    monkeypatch.setenv("PROVISIONING_RETRY_SECONDS", "0.2")


@pytest.fixture(autouse=True)
def nodes_booted_long_ago(settings):
    """The simulator's nodes booted when it started; tests about a fresh boot set the grace themselves."""
    settings.RECONCILE_BOOT_GRACE_SECONDS = 0


def make_user(email, *, password=PASSWORD, **extra):
    user = get_user_model().objects.create_user(username=email.split("@")[0], email=email, password=password, **extra)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def make_tenant(name, slug, owner=None):
    tenant = Tenant.objects.create(name=name, slug=slug)
    if owner is not None:
        Membership.objects.create(tenant=tenant, user=owner, role=Role.OWNER)
    return tenant


@pytest.fixture
def alice(db):
    return make_user("alice@example.com")


@pytest.fixture
def bob(db):
    return make_user("bob@example.com")


@pytest.fixture
def charlie(db):
    return make_user("charlie@example.com")


@pytest.fixture
def tenant_a(alice, bob):
    tenant = make_tenant("Alpha GmbH", "alpha", owner=alice)
    Membership.objects.create(tenant=tenant, user=bob, role=Role.MEMBER)
    return tenant


@pytest.fixture
def tenant_b(charlie):
    return make_tenant("Bravo KG", "bravo", owner=charlie)


def _client_for(client_class, user):
    c = client_class()
    c.force_login(user)
    return c


@pytest.fixture
def alice_client(tenant_a, alice):
    return _client_for(Client, alice)


@pytest.fixture
def bob_client(tenant_a, bob):
    return _client_for(Client, bob)


@pytest.fixture
def charlie_client(tenant_b, charlie):
    return _client_for(Client, charlie)


def make_staff(email, group):
    # Flushes between transactional tests drop the migration's groups; recreate them.
    sync_groups()
    user = make_user(email, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def client_for(user):
    return _client_for(Client, user)


@pytest.fixture
def dora(db):
    return make_staff("dora@jiku.example", ADMIN)


@pytest.fixture
def otto(db):
    return make_staff("otto@jiku.example", OPERATOR)


@pytest.fixture
def sam(db):
    return make_staff("sam@jiku.example", SALES)


@pytest.fixture
def bill(db):
    return make_staff("bill@jiku.example", BILLING)
