"""Offer acceptances: the evidence of a contract, written once (triggers refuse changes)."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


FROZEN = ["offer_id", "revision_id", "channel", "name", "position", "note", "ip_address", "user_agent",
          "accepted_at", "html", "pdf"]
MESSAGE = "services: an offer acceptance is evidence and cannot be changed"
POSTGRES = f"""
CREATE OR REPLACE FUNCTION services_acceptance_frozen() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' OR ROW({", ".join("NEW." + c for c in FROZEN)}) IS DISTINCT FROM ROW({", ".join("OLD." + c for c in FROZEN)})
  THEN RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation'; END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER services_acceptance_frozen BEFORE UPDATE OR DELETE ON services_offeracceptance
  FOR EACH ROW EXECUTE FUNCTION services_acceptance_frozen();
"""
_raise = f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
SQLITE = [
    f"""CREATE TRIGGER services_acceptance_frozen_update BEFORE UPDATE ON services_offeracceptance
        WHEN {" OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN)} {_raise}""",
    f"CREATE TRIGGER services_acceptance_frozen_delete BEFORE DELETE ON services_offeracceptance {_raise}",
]


def triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in {"postgresql": [POSTGRES], "sqlite": SQLITE}.get(vendor, []):
        schema_editor.execute(statement)


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS services_acceptance_frozen ON services_offeracceptance;"
                              " DROP FUNCTION IF EXISTS services_acceptance_frozen();")
    elif vendor == "sqlite":
        for name in ("services_acceptance_frozen_update", "services_acceptance_frozen_delete"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ('services', '0005_frozen_offers'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='OfferAcceptance',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('channel', models.CharField(choices=[('online', 'online by the customer'), ('paper', 'signed on paper, recorded by JIKU')], max_length=8, verbose_name='channel')),
                ('name', models.CharField(max_length=120, verbose_name='name')),
                ('position', models.CharField(max_length=120, verbose_name='position')),
                ('note', models.TextField(blank=True, verbose_name='note')),
                ('ip_address', models.GenericIPAddressField(blank=True, null=True, verbose_name='address')),
                ('user_agent', models.CharField(blank=True, max_length=300, verbose_name='browser')),
                ('accepted_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='accepted')),
                ('html', models.TextField(editable=False)),
                ('pdf', models.BinaryField(blank=True, null=True)),
                ('offer', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='acceptance', to='services.offer')),
                ('recorded_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL)),
                ('revision', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='services.offerrevision')),
            ],
            options={
                'verbose_name': 'offer acceptance',
                'verbose_name_plural': 'offer acceptances',
                'constraints': [models.CheckConstraint(condition=models.Q(models.Q(('name', ''), _negated=True), models.Q(('position', ''), _negated=True)), name='acceptance_names_the_signer')],
            },
        ),
        migrations.RunPython(triggers, drop_triggers),
    ]
