"""Thin Celery tasks; the work lives in billing.actions and billing.documents."""

from celery import shared_task
from django.utils import timezone

from . import actions, documents
from .metering import month_of


@shared_task(acks_late=True, ignore_result=True)
def monthly_run():
    """Beat fires this daily (migration 0002): it bills the month before, once; later calls skip what exists."""
    year, month = month_of(timezone.now())
    year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    actions.billing_run(year=year, month=month)


@shared_task(ignore_result=True)
def dunning():
    actions.dunning_run()


@shared_task(acks_late=True, ignore_result=True)
def render_documents(invoice_id):
    documents.ensure_documents(invoice_id)
