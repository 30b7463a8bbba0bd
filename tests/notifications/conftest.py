"""Deliveries driven in the test's thread: `deliver` plays the worker's part (fan out, send)."""

import pytest

from notifications import actions
from notifications.models import Event
from tenants.models import Membership, Role
from tests.conftest import make_user


def deliver():
    """Fan out every recorded event and send what is due, as the tasks would after commit."""
    for event in Event.objects.order_by("pk"):
        for delivery_id in actions.event_fan_out(event_id=event.pk):
            actions.delivery_send(delivery_id=delivery_id)


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
