from django.db import migrations

SCHEDULES = [
    ("provisioning: reconcile clusters", "provisioning.tasks.reconcile_clusters", 60),
    ("provisioning: sweep stalled operations", "provisioning.tasks.sweep_operations", 30),
]


def create(apps, schema_editor):
    Interval = apps.get_model("django_celery_beat", "IntervalSchedule")
    Periodic = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, seconds in SCHEDULES:
        interval, _ = Interval.objects.get_or_create(every=seconds, period="seconds")
        Periodic.objects.update_or_create(name=name, defaults={"task": task, "interval": interval, "enabled": True})


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=[s[0] for s in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("provisioning", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(create, remove)]
