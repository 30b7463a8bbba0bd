from django.db import migrations

NAME = "provisioning: refresh node graphs"


def create(apps, schema_editor):
    Interval = apps.get_model("django_celery_beat", "IntervalSchedule")
    Periodic = apps.get_model("django_celery_beat", "PeriodicTask")
    interval, _ = Interval.objects.get_or_create(every=5, period="minutes")
    Periodic.objects.update_or_create(
        name=NAME, defaults={"task": "provisioning.tasks.refresh_node_metrics", "interval": interval, "enabled": True}
    )


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("provisioning", "0005_staff_operations")]
    operations = [migrations.RunPython(create, remove)]
