"""The pending-order schedule. The catalogue (tiers, VDS sizes, rules, Sales group) was installed
here too; it is installed by 0007 now, whose models it needs."""

from django.db import migrations


def create(apps, schema_editor):
    Interval = apps.get_model("django_celery_beat", "IntervalSchedule")
    Periodic = apps.get_model("django_celery_beat", "PeriodicTask")
    interval, _ = Interval.objects.get_or_create(every=60, period="seconds")
    Periodic.objects.update_or_create(
        name="services: place pending orders",
        defaults={"task": "services.tasks.place_pending_orders", "interval": interval, "enabled": True},
    )


def remove(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name="services: place pending orders").delete()
    apps.get_model("auth", "Group").objects.filter(name="Sales").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("services", "0002_offers"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [migrations.RunPython(create, remove)]
