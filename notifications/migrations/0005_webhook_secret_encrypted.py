from django.db import migrations, models


def encrypt_existing(apps, schema_editor):
    from notifications import crypto

    Webhook = apps.get_model("notifications", "Webhook")
    for hook in Webhook.objects.all():
        hook.secret_encrypted = crypto.encrypt(hook.secret)
        hook.save(update_fields=["secret_encrypted"])


def decrypt_existing(apps, schema_editor):
    from notifications import crypto

    Webhook = apps.get_model("notifications", "Webhook")
    for hook in Webhook.objects.all():
        hook.secret = crypto.decrypt(hook.secret_encrypted)
        hook.save(update_fields=["secret"])


class Migration(migrations.Migration):

    dependencies = [
        ("notifications", "0004_deliveries_to_an_address"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhook",
            name="secret_encrypted",
            field=models.TextField(default="", editable=False),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="webhook",
            name="secret",
            field=models.CharField(blank=True, editable=False, max_length=64, verbose_name="secret"),
        ),
        migrations.RunPython(encrypt_existing, decrypt_existing),
        migrations.RemoveField(model_name="webhook", name="secret"),
    ]
