"""The concept's sample customer (4.8.1): a firm of 5 with a 6-year-old server, in German and English.

This is customer data, not interface text, so it lives here per language instead of in the catalogue.
"""

from decimal import Decimal

SAMPLE = {
    "de": {
        "company": "Musterkunde GmbH",
        "contact_name": "Erika Mustermann",
        "address": "Beispielweg 5\n12345 Musterstadt",
        "systems": (
            "Ein 6 Jahre alter Server im Büro: lokaler Fileserver, CRM mit MS-SQL-Datenbank, Terminalserver "
            "für das Homeoffice und Active Directory. Dazu OneDrive, Cloud-Telefonie und Videokonferenzen; "
            "E-Mail beim Webhoster; Outlook und lokales Office."
        ),
        "use_cases": [
            ("CRM (Veranstaltungsmanagement)", "Auf dem alten Server, MS-SQL-Datenbank"),
            ("VoIP-Telefonie", "Cloud-Telefonanlage mit TAPI-Anbindung"),
            ("Videokonferenzen", "Cloud-Dienst"),
            ("Homeoffice", "Terminalserver (RDP) auf dem alten Server"),
            ("Active Directory", "Domänencontroller auf dem alten Server"),
            ("E-Mail", "Postfächer beim Webhoster"),
            ("Kalender und Aufgaben", "Outlook, lokales Office; Dateien auf Fileserver und OneDrive"),
        ],
    },
    "en": {
        "company": "Sample Customer Ltd",
        "contact_name": "Erika Mustermann",
        "address": "Beispielweg 5\n12345 Musterstadt\nGermany",
        "systems": (
            "A 6-year-old server in the office: local file server, CRM on an MS SQL database, terminal server "
            "for home office and Active Directory. Plus OneDrive, cloud telephony and video conferencing; "
            "e-mail at the web host; Outlook and local Office."
        ),
        "use_cases": [
            ("CRM (event management)", "On the old server, MS SQL database"),
            ("VoIP telephony", "Cloud telephone system with TAPI link"),
            ("Video conferencing", "Cloud service"),
            ("Home office", "Terminal server (RDP) on the old server"),
            ("Active Directory", "Domain controller on the old server"),
            ("E-mail", "Mailboxes at the web host"),
            ("Calendar and tasks", "Outlook, local Office; files on the file server and OneDrive"),
        ],
    },
}
COMMON = {
    "contact_email": "erika.mustermann@musterkunde.example",
    "employees": 5,
    "server_age_years": 6,
    "challenges": ["old_hardware", "costs", "home_office", "no_it_staff"],
    "tier_slug": "gering",
    "node_name": "pve",
    "headroom_percent": 25,
    "setup_fee": Decimal("490.00"),
    "migration_fee": Decimal("1200.00"),
    "poc_fee": Decimal("300.00"),
    "term_months": 24,
}
