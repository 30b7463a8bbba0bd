"""The database keeps what an offer said: a revision row never changes, an offer's content never
changes under the same revision number, and an accepted, declined or expired offer (with its use
cases and revisions) does not change at all. Whatever door a change comes through (the sales pages,
the Django admin, a shell), the rule holds; the sales pages make every change a new revision."""

from django.db import migrations, models

# The columns that make up what the customer reads. State, tenant (set to NULL when a tenant is
# deleted), accepted_at and updated_at move on their own.
CONTENT = ["number", "language", "company", "contact_name", "contact_email", "address", "employees", "systems",
           "server_age_years", "challenges", "tier_id", "duties", "hosting", "cluster_id", "node_name",
           "headroom_percent", "setup_fee", "migration_fee", "poc_fee", "term_months", "valid_until"]
OPEN = "('draft', 'sent')"
MESSAGE = "services: a written offer revision cannot be changed; save the offer as a new revision"

_new, _old = ", ".join("NEW." + c for c in CONTENT), ", ".join("OLD." + c for c in CONTENT)
# A use case may change only while its offer is open and its current revision is being written
# (the offer row already carries the new number, the revision row does not exist yet).
_written = ("EXISTS (SELECT 1 FROM services_offer o JOIN services_offerrevision r ON r.offer_id = o.id "
            "AND r.number = o.revision WHERE o.id = {}.offer_id)")
_closed = "(SELECT state FROM services_offer WHERE id = {}.offer_id) NOT IN " + OPEN
_not_draft = "(SELECT state FROM services_offer WHERE id = {}.offer_id) <> 'draft'"

POSTGRES = f"""
CREATE OR REPLACE FUNCTION services_offer_frozen() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.state <> 'draft' THEN RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation'; END IF;
    RETURN OLD;
  END IF;
  IF NEW.revision < OLD.revision
     OR (OLD.state NOT IN {OPEN} AND (ROW({_new}, NEW.revision, NEW.state, NEW.accepted_at)
                                      IS DISTINCT FROM ROW({_old}, OLD.revision, OLD.state, OLD.accepted_at)))
     OR (NEW.revision = OLD.revision AND ROW({_new}) IS DISTINCT FROM ROW({_old})) THEN
    RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER services_offer_frozen BEFORE UPDATE OR DELETE ON services_offer
  FOR EACH ROW EXECUTE FUNCTION services_offer_frozen();

CREATE OR REPLACE FUNCTION services_offerrevision_frozen() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'UPDATE' OR {_not_draft.format("OLD")} THEN
    RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN OLD;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER services_offerrevision_frozen BEFORE UPDATE OR DELETE ON services_offerrevision
  FOR EACH ROW EXECUTE FUNCTION services_offerrevision_frozen();

CREATE OR REPLACE FUNCTION services_usecase_frozen() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF {_closed.format("OLD")} OR ({_not_draft.format("OLD")} AND {_written.format("OLD")}) THEN
      RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN OLD;
  END IF;
  IF {_closed.format("NEW")} OR {_written.format("NEW")}
     OR (TG_OP = 'UPDATE' AND ({_closed.format("OLD")} OR {_written.format("OLD")})) THEN
    RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER services_usecase_frozen BEFORE INSERT OR UPDATE OR DELETE ON services_usecase
  FOR EACH ROW EXECUTE FUNCTION services_usecase_frozen();
"""
POSTGRES_DROP = """
DROP TRIGGER IF EXISTS services_usecase_frozen ON services_usecase; DROP FUNCTION IF EXISTS services_usecase_frozen();
DROP TRIGGER IF EXISTS services_offerrevision_frozen ON services_offerrevision;
DROP FUNCTION IF EXISTS services_offerrevision_frozen();
DROP TRIGGER IF EXISTS services_offer_frozen ON services_offer; DROP FUNCTION IF EXISTS services_offer_frozen();
"""

_changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in CONTENT)
_raise = f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
SQLITE = [
    f"""CREATE TRIGGER services_offer_frozen_update BEFORE UPDATE ON services_offer
        WHEN NEW.revision < OLD.revision
          OR (OLD.state NOT IN {OPEN} AND ({_changed} OR NEW.revision IS NOT OLD.revision
                                          OR NEW.state IS NOT OLD.state OR NEW.accepted_at IS NOT OLD.accepted_at))
          OR (NEW.revision = OLD.revision AND ({_changed})) {_raise}""",
    f"CREATE TRIGGER services_offer_frozen_delete BEFORE DELETE ON services_offer WHEN OLD.state <> 'draft' {_raise}",
    f"CREATE TRIGGER services_offerrevision_frozen_update BEFORE UPDATE ON services_offerrevision {_raise}",
    f"""CREATE TRIGGER services_offerrevision_frozen_delete BEFORE DELETE ON services_offerrevision
        WHEN {_not_draft.format("OLD")} {_raise}""",
    f"""CREATE TRIGGER services_usecase_frozen_insert BEFORE INSERT ON services_usecase
        WHEN {_closed.format("NEW")} OR {_written.format("NEW")} {_raise}""",
    f"""CREATE TRIGGER services_usecase_frozen_update BEFORE UPDATE ON services_usecase
        WHEN {_closed.format("NEW")} OR {_written.format("NEW")} OR {_closed.format("OLD")} OR {_written.format("OLD")}
        {_raise}""",
    f"""CREATE TRIGGER services_usecase_frozen_delete BEFORE DELETE ON services_usecase
        WHEN {_closed.format("OLD")} OR ({_not_draft.format("OLD")} AND {_written.format("OLD")}) {_raise}""",
]
SQLITE_DROP = ["services_offer_frozen_update", "services_offer_frozen_delete", "services_offerrevision_frozen_update",
               "services_offerrevision_frozen_delete", "services_usecase_frozen_insert",
               "services_usecase_frozen_update", "services_usecase_frozen_delete"]


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


class Migration(migrations.Migration):
    dependencies = [("services", "0004_contract_fees")]

    operations = [
        migrations.AddField(
            model_name="offer",
            name="address",
            field=models.TextField(blank=True, help_text="Printed on the offer; becomes the customer's billing address.",
                                   verbose_name="postal address"),
        ),
        migrations.AddField(
            model_name="offerrevision",
            name="quote",
            field=models.JSONField(blank=True, default=dict, verbose_name="priced lines"),
        ),
        migrations.RunPython(triggers, drop_triggers),
    ]
