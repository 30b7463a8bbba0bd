"""The worker's part in tests without one: fan out every recorded event and send what is due, as
the tasks would after commit. Other apps' tests import it where a mail (an invitation) is now a
notification."""

from notifications import actions
from notifications.models import Event


def deliver():
    for event in Event.objects.order_by("pk"):
        for delivery_id in actions.event_fan_out(event_id=event.pk):
            actions.delivery_send(delivery_id=delivery_id)
