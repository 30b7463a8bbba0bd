from django.db import migrations, models


def existing_downloads_are_on_every_node(apps, schema_editor):
    """Appliances imported before nodes were recorded were downloaded on every node online then."""
    Image = apps.get_model("provisioning", "Image")
    Node = apps.get_model("provisioning", "Node")
    for image in Image.objects.filter(source__in=["appliance", "oci"], status="ready"):
        image.nodes = sorted(Node.objects.filter(cluster_id=image.cluster_id).values_list("name", flat=True))
        image.save(update_fields=["nodes"])


class Migration(migrations.Migration):

    dependencies = [
        ('provisioning', '0009_server_slots'),
    ]

    operations = [
        migrations.AddField(
            model_name='image',
            name='nodes',
            field=models.JSONField(blank=True, default=list, verbose_name='nodes holding it'),
        ),
        migrations.RunPython(existing_downloads_are_on_every_node, migrations.RunPython.noop),
    ]
