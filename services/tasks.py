"""Thin periodic tasks; the work lives in services.actions."""

from celery import shared_task

from . import actions


@shared_task(ignore_result=True)
def place_pending_orders():
    """Orders waiting for a VDS are built once reconcile has seen the node online."""
    actions.orders_place_pending()
    actions.offers_expire()
