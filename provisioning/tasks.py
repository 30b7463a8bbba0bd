"""Thin Celery tasks: they carry ids, the work and its state live in provisioning.engine."""

from celery import shared_task

from . import engine, reconcile


@shared_task(acks_late=True, ignore_result=True)
def run_operation(op_id):
    engine.run(op_id)


@shared_task(ignore_result=True)
def sweep_operations():
    engine.sweep()


@shared_task(ignore_result=True)
def reconcile_clusters():
    reconcile.reconcile_all()
