"""Thin Celery tasks: they carry ids; the work and its state live in notifications.actions."""

from celery import shared_task

from . import actions


@shared_task(acks_late=True, ignore_result=True)
def fan_out(event_id):
    actions.event_fan_out(event_id=event_id)


@shared_task(acks_late=True, ignore_result=True)
def send_delivery(delivery_id):
    actions.delivery_send(delivery_id=delivery_id)


@shared_task(ignore_result=True)
def sweep():
    actions.notifications_sweep()
