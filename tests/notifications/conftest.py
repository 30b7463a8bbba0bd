"""Deliveries driven in the test's thread: `deliver` plays the worker's part (fan out, send)."""

import pytest

from tenants.models import Membership, Role
from tests.conftest import make_user

from .outbox import deliver  # noqa: F401 - the tests import it from here


@pytest.fixture
def vera(db):
    return make_user("vera@example.com")


@pytest.fixture
def viewer(tenant_a, vera):
    Membership.objects.create(tenant=tenant_a, user=vera, role=Role.VIEWER)
    return vera


# The simulator and the real worker, shared with tests/provisioning; billing's rows.
from tests.billing.conftest import plans, rows_cluster  # noqa: E402, F401
from tests.provisioning.conftest import cluster, ct_image, pve, sim, worker  # noqa: E402, F401
