"""Managed-service prices move from the tiers to the duties (the same duties cost the same in every
tier), and Microsoft licences (SPLA) become part of what is sold and billed.

The catalogue is installed here (it was installed by 0003 before it knew prices per duty and
licences); it refreshes the defaults, like 0003 did on a new installation."""

import importlib

import django.core.validators
from decimal import Decimal
from django.db import migrations, models


frozen = importlib.import_module("services.migrations.0005_frozen_offers")


def use_case_triggers_again(apps, schema_editor):
    # SQLite rebuilds the use-case table to add a column, and its triggers go with the old table.
    if schema_editor.connection.vendor == "sqlite":
        for name in frozen.SQLITE_DROP:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")
        for statement in frozen.SQLITE:
            schema_editor.execute(statement)


def catalogue(apps, schema_editor):
    from services.catalogue import install

    install(apps)


class Migration(migrations.Migration):

    dependencies = [
        ('services', '0006_offer_acceptance'),
    ]

    operations = [
        migrations.CreateModel(
            name='DutyPrice',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('duty', models.CharField(choices=[('infrastructure', 'Infrastructure'), ('provisioning', 'Server provisioning'), ('updates', 'Updates and upgrades'), ('backups', 'Backups'), ('snapshots', 'Snapshots'), ('rollbacks', 'Rollbacks'), ('monitoring', 'Monitoring'), ('app_users', 'Application users'), ('telephony', 'Telephony setup'), ('app_updates', 'Application updates')], max_length=32, unique=True, verbose_name='duty')),
                ('per_month', models.DecimalField(decimal_places=2, default=0, max_digits=10, validators=[django.core.validators.MinValueValidator(Decimal('0'))], verbose_name='monthly fee per customer (net, EUR)')),
                ('per_server', models.DecimalField(decimal_places=2, default=0, help_text='Charged for every server (not staging copies) while JIKU holds the duty.', max_digits=10, validators=[django.core.validators.MinValueValidator(Decimal('0'))], verbose_name='monthly fee per managed server (net, EUR)')),
            ],
            options={
                'verbose_name': 'duty price',
                'verbose_name_plural': 'duty prices',
                'ordering': ['duty'],
            },
        ),
        migrations.CreateModel(
            name='Licence',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('code', models.SlugField(unique=True, verbose_name='code')),
                ('name', models.CharField(max_length=100, verbose_name='name')),
                ('metric', models.CharField(choices=[('core', 'per core pack of a server'), ('user', 'per user')], max_length=8, verbose_name='licensed')),
                ('pack_cores', models.PositiveSmallIntegerField(default=2, help_text='Only for per-core licences.', validators=[django.core.validators.MinValueValidator(1)], verbose_name='cores per pack')),
                ('minimum_cores', models.PositiveSmallIntegerField(default=0, help_text='Only for per-core licences: a smaller server pays for this many.', verbose_name='minimum cores per server')),
                ('price_monthly', models.DecimalField(decimal_places=2, max_digits=10, validators=[django.core.validators.MinValueValidator(Decimal('0'))], verbose_name='monthly price per pack or user (net, EUR)')),
                ('os_family', models.CharField(blank=True, max_length=32, verbose_name='required by the OS family')),
                ('active', models.BooleanField(default=True, verbose_name='active')),
            ],
            options={
                'verbose_name': 'licence',
                'verbose_name_plural': 'licences',
                'ordering': ['metric', 'name'],
            },
        ),
        migrations.RemoveConstraint(
            model_name='tierduty',
            name='tier_duty_fee_not_negative',
        ),
        migrations.RemoveField(
            model_name='servicetier',
            name='fee_per_server',
        ),
        migrations.RemoveField(
            model_name='servicetier',
            name='fee_per_tenant',
        ),
        migrations.RemoveField(
            model_name='tierduty',
            name='monthly_fee',
        ),
        migrations.AddField(
            model_name='order',
            name='licences',
            field=models.JSONField(blank=True, default=list, editable=False, verbose_name='licences'),
        ),
        migrations.AddField(
            model_name='suggestionrule',
            name='os_family',
            field=models.CharField(blank=True, help_text="The image family the guest is built from, e.g. windows; empty for the cluster's default image.", max_length=32, verbose_name='operating system'),
        ),
        migrations.AddField(
            model_name='usecase',
            name='licences',
            field=models.JSONField(blank=True, default=list, verbose_name='licences'),
        ),
        migrations.AddConstraint(
            model_name='dutyprice',
            constraint=models.CheckConstraint(condition=models.Q(('per_month__gte', 0), ('per_server__gte', 0)), name='duty_price_not_negative'),
        ),
        migrations.AddConstraint(
            model_name='licence',
            constraint=models.CheckConstraint(condition=models.Q(('price_monthly__gte', 0)), name='licence_price_not_negative'),
        ),
        migrations.AddField(
            model_name='suggestionrule',
            name='licences',
            field=models.ManyToManyField(blank=True, related_name='rules', to='services.licence', verbose_name='licences'),
        ),
        migrations.RunPython(use_case_triggers_again, migrations.RunPython.noop),
        migrations.RunPython(catalogue, migrations.RunPython.noop),
    ]
