import pytest
from django.test import Client

from tenants.models import Membership
from tests.conftest import make_user


@pytest.fixture
def member_client(tenant_a):
    """A client for a fresh user holding `role` in alice's tenant."""

    def make(role):
        user = make_user(f"{role}-user@example.com")
        Membership.objects.create(tenant=tenant_a, user=user, role=role)
        client = Client()
        client.force_login(user)
        client.user = user
        return client

    return make
