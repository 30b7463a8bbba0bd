from django.contrib.auth.management import create_permissions
from django.db import migrations


def resync_groups(apps, schema_editor):
    """Operators lose change_cluster (the credentials) and the changes they never operate with; they gain operate_cluster."""
    from tenants.staff_roles import sync_groups

    # Permissions are normally created after all migrations ran; operate_cluster is needed now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_groups(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0005_staff_groups"),
        ("provisioning", "0011_staff_permissions"),
    ]
    operations = [migrations.RunPython(resync_groups, migrations.RunPython.noop)]
