from django.db import migrations, models


def freeze(apps, schema_editor):
    """Contracts from before frozen fees get their tier's prices of today: the best record there is."""
    Contract = apps.get_model("services", "Contract")
    for contract in Contract.objects.select_related("tier", "offer"):
        tier = contract.tier
        fees = {d.duty: d.monthly_fee for d in tier.duties.all()}
        server_duties = ["provisioning", "updates", "backups", "snapshots", "rollbacks", "monitoring"]
        offer = contract.offer
        contract.fees = {
            "tier": {"slug": tier.slug, "name": tier.name, "fee_per_tenant": str(tier.fee_per_tenant),
                     "fee_per_server": str(tier.fee_per_server),
                     "manages_servers": any(contract.duties.get(d) == "jiku" for d in server_duties)},
            "duties": [{"duty": d, "fee": str(f)} for d, f in fees.items() if f and contract.duties.get(d) == "jiku"],
            "vds": None,
            "once": [{"code": c, "amount": str(a)} for c, a in (
                ("setup", offer.setup_fee), ("migration", offer.migration_fee), ("poc", offer.poc_fee)) if a]
            if offer is not None else [],
        }
        contract.save(update_fields=["fees"])


class Migration(migrations.Migration):
    dependencies = [("services", "0003_catalogue")]
    operations = [
        migrations.AddField(
            model_name="contract", name="fees",
            field=models.JSONField(blank=True, default=dict, editable=False, verbose_name="agreed fees"),
        ),
        migrations.RunPython(freeze, migrations.RunPython.noop),
    ]
