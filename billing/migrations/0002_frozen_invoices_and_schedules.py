"""The database keeps issued invoices unchanged (triggers), beat runs the billing and dunning daily,
and the staff groups learn billing's permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

FROZEN = ["tenant_id", "kind", "number", "period_start", "period_end", "issue_date", "due_date", "corrects_id", "language",
          "buyer_name", "buyer_address", "buyer_vat_id", "seller", "net", "vat", "gross", "note", "payment_days", "issued_at"]
MESSAGE = "billing: an issued invoice and its lines cannot be changed; correct it with a credit note"

POSTGRES = f"""
CREATE OR REPLACE FUNCTION billing_invoice_frozen() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.status <> 'draft' THEN RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation'; END IF;
    RETURN OLD;
  END IF;
  IF OLD.status <> 'draft' AND (NEW.status = 'draft'
      OR ROW({", ".join("NEW." + c for c in FROZEN)}) IS DISTINCT FROM ROW({", ".join("OLD." + c for c in FROZEN)})
      OR (OLD.pdf IS NOT NULL AND NEW.pdf IS DISTINCT FROM OLD.pdf)
      OR (OLD.xml IS NOT NULL AND NEW.xml IS DISTINCT FROM OLD.xml)) THEN
    RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER billing_invoice_frozen BEFORE UPDATE OR DELETE ON billing_invoice
  FOR EACH ROW EXECUTE FUNCTION billing_invoice_frozen();

CREATE OR REPLACE FUNCTION billing_line_frozen() RETURNS trigger AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND EXISTS (SELECT 1 FROM billing_invoice WHERE id = OLD.invoice_id AND status <> 'draft') THEN
    RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND EXISTS (SELECT 1 FROM billing_invoice WHERE id = NEW.invoice_id AND status <> 'draft') THEN
    RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER billing_line_frozen BEFORE INSERT OR UPDATE OR DELETE ON billing_invoiceline
  FOR EACH ROW EXECUTE FUNCTION billing_line_frozen();
"""
POSTGRES_DROP = """
DROP TRIGGER IF EXISTS billing_line_frozen ON billing_invoiceline; DROP FUNCTION IF EXISTS billing_line_frozen();
DROP TRIGGER IF EXISTS billing_invoice_frozen ON billing_invoice; DROP FUNCTION IF EXISTS billing_invoice_frozen();
"""
_changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FROZEN)
_issued = "(SELECT status FROM billing_invoice WHERE id = {}.invoice_id) <> 'draft'"
SQLITE = [
    f"""CREATE TRIGGER billing_invoice_frozen_update BEFORE UPDATE ON billing_invoice
        WHEN OLD.status <> 'draft' AND (NEW.status = 'draft' OR {_changed}
             OR (OLD.pdf IS NOT NULL AND NEW.pdf IS NOT OLD.pdf) OR (OLD.xml IS NOT NULL AND NEW.xml IS NOT OLD.xml))
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER billing_invoice_frozen_delete BEFORE DELETE ON billing_invoice WHEN OLD.status <> 'draft'
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER billing_line_frozen_insert BEFORE INSERT ON billing_invoiceline WHEN {_issued.format("NEW")}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER billing_line_frozen_update BEFORE UPDATE ON billing_invoiceline
        WHEN {_issued.format("OLD")} OR {_issued.format("NEW")} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER billing_line_frozen_delete BEFORE DELETE ON billing_invoiceline WHEN {_issued.format("OLD")}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
]
SQLITE_DROP = ["billing_invoice_frozen_update", "billing_invoice_frozen_delete", "billing_line_frozen_insert",
               "billing_line_frozen_update", "billing_line_frozen_delete"]
SCHEDULES = [
    # Daily, so a day the workers were down is caught up the next; the run skips what exists.
    ("billing: monthly run", "billing.tasks.monthly_run", "30", "3"),
    ("billing: dunning", "billing.tasks.dunning", "0", "7"),
]


def triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES)
    elif vendor == "sqlite":
        for statement in SQLITE:
            schema_editor.execute(statement)


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_DROP)
    elif vendor == "sqlite":
        for name in SQLITE_DROP:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


def schedules(apps, schema_editor):
    Crontab = apps.get_model("django_celery_beat", "CrontabSchedule")
    Periodic = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, minute, hour in SCHEDULES:
        crontab, _ = Crontab.objects.get_or_create(minute=minute, hour=hour, day_of_week="*", day_of_month="*",
                                                   month_of_year="*", timezone="Europe/Berlin")
        Periodic.objects.update_or_create(name=name, defaults={"task": task, "crontab": crontab, "interval": None,
                                                              "enabled": True})


def remove_schedules(apps, schema_editor):
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
        ("billing", "0001_initial"),
        ("services", "0004_contract_fees"),
        ("tenants", "0006_deliberate_staff_roles"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]
    operations = [
        migrations.RunPython(triggers, drop_triggers),
        migrations.RunPython(schedules, remove_schedules),
        migrations.RunPython(groups, migrations.RunPython.noop),
    ]
