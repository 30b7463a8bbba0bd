"""The sweep that picks up lost deliveries, and the staff groups learn the notifications' permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

SCHEDULES = [("notifications: sweep undelivered events", "notifications.tasks.sweep", 60)]


def create(apps, schema_editor):
    Interval = apps.get_model("django_celery_beat", "IntervalSchedule")
    Periodic = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, seconds in SCHEDULES:
        interval, _ = Interval.objects.get_or_create(every=seconds, period="seconds")
        Periodic.objects.update_or_create(name=name, defaults={"task": task, "interval": interval, "enabled": True})


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=[s[0] for s in SCHEDULES]).delete()


def groups(apps, schema_editor):
    from tenants.staff_roles import sync_groups

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        ("tenants", "0006_deliberate_staff_roles"),
    ]
    operations = [migrations.RunPython(create, remove), migrations.RunPython(groups, migrations.RunPython.noop)]
