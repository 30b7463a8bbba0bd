import uuid

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('provisioning', '0012_trust_rules'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ConsoleSession',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('public_id', models.UUIDField(default=uuid.uuid4, editable=False, unique=True)),
                ('kind', models.CharField(choices=[('vnc', 'Graphical console'), ('serial', 'Serial console'), ('terminal', 'Terminal')], max_length=8, verbose_name='kind')),
                ('ticket_hash', models.CharField(editable=False, max_length=64, unique=True)),
                ('ip_address', models.GenericIPAddressField(blank=True, null=True, verbose_name='from')),
                ('state', models.CharField(choices=[('issued', 'Waiting for the browser'), ('open', 'Open'), ('closed', 'Closed')], default='issued', max_length=8, verbose_name='state')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='opened')),
                ('expires_at', models.DateTimeField(verbose_name='ticket valid until')),
                ('connected_at', models.DateTimeField(blank=True, null=True, verbose_name='connected')),
                ('closed_at', models.DateTimeField(blank=True, null=True, verbose_name='closed')),
                ('end', models.CharField(blank=True, choices=[('browser', 'Closed in the browser'), ('upstream', 'Connection to Proxmox ended'), ('failed', 'Could not connect'), ('staff', 'Ended by JIKU staff'), ('access', 'Access ended'), ('unused', 'Never used')], max_length=8, verbose_name='ended because')),
                ('ended_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('server', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='console_sessions', to='provisioning.server')),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'console session',
                'verbose_name_plural': 'console sessions',
                'ordering': ['-created_at'],
                'indexes': [models.Index(fields=['state', 'created_at'], name='console_session_state')],
                'constraints': [models.CheckConstraint(condition=models.Q(('kind__in', ['vnc', 'serial', 'terminal'])), name='console_session_kind'), models.CheckConstraint(condition=models.Q(('state', 'closed'), ('closed_at__isnull', True), _connector='OR'), name='console_closed_at')],
            },
        ),
    ]
