"""The defaults a fresh installation starts with: the concept's three tiers, VDS sizes, suggestion
rules and the Sales group. All admin-editable afterwards.

The data migration installs them; tests whose database is flushed between tests install them again.
"""

from decimal import Decimal

from django.contrib.auth.management import create_permissions

ALL_DUTIES = ["infrastructure", "provisioning", "updates", "backups", "snapshots", "rollbacks", "monitoring",
              "app_users", "telephony", "app_updates"]
BACKUPS = {"schedule": "daily 02:00", "keep_daily": 7, "keep_weekly": 4}
TIERS = [
    dict(slug="gering", name="gering", position=1,
         response_critical_hours=2, response_normal_hours=8, customisable=False, allows_shared_nodes=True,
         backup_policy=BACKUPS,
         description="Der Kunde wirkt nur gering mit: JIKU übernimmt Administration und das gesamte "
                     "Infrastruktur-, Server- und Anwendungsmanagement.",
         duties={d: "jiku" for d in ALL_DUTIES}),
    dict(slug="mittel", name="mittel", position=2,
         response_critical_hours=4, response_normal_hours=24, customisable=True, allows_shared_nodes=True,
         backup_policy=BACKUPS,
         description="Der Kunde wirkt mit: je Tätigkeit im Server- und Anwendungsmanagement wird vereinbart, "
                     "wer sie übernimmt – klar abgegrenzt nach Know-how.",
         duties={"infrastructure": "jiku", "provisioning": "jiku", "updates": "jiku", "backups": "jiku",
                 "snapshots": "customer", "rollbacks": "customer", "monitoring": "jiku", "app_users": "customer",
                 "telephony": "customer", "app_updates": "customer"}),
    dict(slug="hoch", name="hoch", position=3,
         response_critical_hours=8, response_normal_hours=48, customisable=False, allows_shared_nodes=False,
         backup_policy={},
         description="Die eigene IT-Abteilung übernimmt alle Administrationsbereiche; JIKU stellt die "
                     "Infrastruktur, weitere Leistungen optional als Managed Services.",
         duties={d: "jiku" if d == "infrastructure" else "customer" for d in ALL_DUTIES}),
]
# What JIKU charges per duty it holds (per customer, per managed server), the same in every tier:
# all duties at JIKU ("gering") come to 149.00 per customer and 30.00 per server, the platform alone
# ("hoch") to 29.00.
DUTY_PRICES = {
    "infrastructure": ("29.00", "0.00"), "provisioning": ("10.00", "0.00"), "updates": ("15.00", "9.00"),
    "backups": ("10.00", "6.00"), "snapshots": ("5.00", "2.00"), "rollbacks": ("10.00", "0.00"),
    "monitoring": ("10.00", "5.00"), "app_users": ("20.00", "0.00"), "telephony": ("20.00", "0.00"),
    "app_updates": ("20.00", "8.00"),
}
# Microsoft licences rented under SPLA, as hosting providers price them (sample prices, net per month).
# (code, name, metric, cores per pack, minimum cores, price, OS family that needs it)
LICENCES = [
    ("windows-server-std", "Windows Server Standard (SPLA)", "core", 2, 8, "4.90", "windows"),
    ("rds-sal", "Remote Desktop Services SAL (SPLA)", "user", 1, 0, "6.90", ""),
    ("sql-server-std-sal", "SQL Server Standard SAL (SPLA)", "user", 1, 0, "14.90", ""),
]
VDS_SIZES = [
    ("VDS 6", 6, 24, 4000, "89.00"),
    ("VDS 8", 8, 32, 4000, "119.00"),
    ("VDS 12", 12, 64, 8000, "189.00"),
    ("VDS 16", 16, 128, 8000, "289.00"),
]
# (position, name, keywords, target, hostname, cores, memory MiB, disk GiB, warning, why, OS family, licences)
RULES = [
    (10, "Cloud-Telefonie (VoIP)", "voip, telefon, telephon, tapi", "saas", "", 1, 0, 0, "telephony",
     "Cloud-Dienste, mit denen der Kunde zufrieden ist, bleiben SaaS.", "", []),
    (20, "Videokonferenzen", "video, konferenz, conferenc, zoom", "saas", "", 1, 0, 0, "",
     "Cloud-Dienste, mit denen der Kunde zufrieden ist, bleiben SaaS.", "", []),
    (30, "E-Mail beim Webhoster", "e-mail, email, postfach, postfäch, mailbox, webhost", "saas", "", 1, 0, 0, "",
     "Gehostete E-Mail bleibt SaaS.", "", []),
    (40, "CRM auf MS SQL", "crm, ms sql, ms-sql, mssql", "vm", "crm", 2, 4096, 80, "db_migration",
     "Windows-Serveranwendung mit MS-SQL-Datenbank: eigene Windows-VM.", "windows", ["sql-server-std-sal"]),
    (50, "Terminalserver (Homeoffice)", "terminal, rdp, homeoffice, home office, remote desktop", "vm", "terminal",
     4, 8192, 100, "", "Terminalserver für das Homeoffice (RDP) in einer Windows-VM statt offener Zugänge ins Büro.",
     "windows", ["rds-sal"]),
    (60, "Active Directory", "active directory, domänen, domain controller, ldap", "vm", "dc", 1, 2048, 40, "",
     "Domänencontroller als kleine Windows-VM.", "windows", []),
    (70, "Nextcloud (Dateien, Kalender, Aufgaben)",
     "datei, file, kalender, calendar, aufgaben, task, zusammenarbeit, collaboration, onedrive, sharepoint",
     "container", "nextcloud", 2, 4096, 200, "",
     "Dateien, Kalender, Aufgaben und Zusammenarbeit in einem Nextcloud-Container (Marktplatz-Appliance).", "", []),
]


def install(apps):
    """Create or refresh the defaults; `apps` is the migration's app registry or django.apps.apps."""
    Tier = apps.get_model("services", "ServiceTier")
    TierDuty = apps.get_model("services", "TierDuty")
    for spec in TIERS:
        spec = dict(spec)
        duties = spec.pop("duties")
        tier, _ = Tier.objects.update_or_create(slug=spec["slug"], defaults=spec)
        for duty, party in duties.items():
            TierDuty.objects.update_or_create(tier=tier, duty=duty, defaults={"party": party})
    DutyPrice = apps.get_model("services", "DutyPrice")
    for duty, (per_month, per_server) in DUTY_PRICES.items():
        DutyPrice.objects.update_or_create(duty=duty, defaults={"per_month": Decimal(per_month),
                                                                "per_server": Decimal(per_server)})
    Licence = apps.get_model("services", "Licence")
    licences = {}
    for code, name, metric, pack, minimum, price, os_family in LICENCES:
        licences[code], _ = Licence.objects.update_or_create(code=code, defaults=dict(
            name=name, metric=metric, pack_cores=pack, minimum_cores=minimum, price_monthly=Decimal(price),
            os_family=os_family,
        ))
    Vds = apps.get_model("services", "VdsSize")
    for name, cores, memory, disk, price in VDS_SIZES:
        Vds.objects.update_or_create(
            name=name, defaults={"cores": cores, "memory_gb": memory, "disk_gb": disk, "price_monthly": Decimal(price)}
        )
    Rule = apps.get_model("services", "SuggestionRule")
    for position, name, keywords, target, hostname, cores, memory, disk, warning, why, os_family, codes in RULES:
        rule, _ = Rule.objects.update_or_create(name=name, defaults=dict(
            position=position, keywords=keywords, target=target, hostname=hostname, min_cores=cores,
            min_memory_mb=memory, min_disk_gb=disk, warning=warning, explanation=why, os_family=os_family,
        ))
        rule.licences.set([licences[code] for code in codes])
    # Permissions are normally created after all migrations; the Sales group needs ours now.
    config = apps.get_app_config("services")
    if not getattr(config, "models_module", None):
        config.models_module = True  # a migration's app stub has none
    create_permissions(config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Sales")
    # Sales read the catalogue and keep the suggestion rules up to date themselves.
    codenames = ["sell", "view_suggestionrule", "add_suggestionrule", "change_suggestionrule", "view_servicetier",
                 "view_tierduty", "view_vdssize", "view_plan", "view_dutyprice", "view_licence"]
    group.permissions.add(*Permission.objects.filter(content_type__app_label="services", codename__in=codenames))
