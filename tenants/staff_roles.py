"""JIKU's staff roles as Django groups with model permissions (superuser is not needed for daily work).

Apps are named by label only, so this lower layer imports nothing above it. `sync_groups` is
idempotent: the data migration runs it, and `manage.py staff_groups` runs it again after new
models arrive.
"""

ADMIN = "Admin"
OPERATOR = "Operator"
SALES = "Sales"  # the same group services/migrations/0003_catalogue.py creates with "sell"
BILLING = "Billing"  # JIKU's accounts: invoices, payments, dunning, rates, DATEV; reads the tenants' billing data

# group -> list of (app label, model or "*", actions or "*"); custom codenames as ("app", None, [codename]).
# Each right is given on purpose (tests/staff/test_role_matrix.py walks the admin and staff URLs):
# - Admin: everything.
# - Operator: runs the platform (maintenance, drain, reconcile, test connection, retry/cancel,
#   drift, marketplace imports and approvals, service requests, failed notification deliveries), reads the rest. No change_cluster
#   (the API address, token, CA and TLS verification), no deletes, no billing data, no suspension.
# - Sales: offers and the sales pages; nothing of operations.
# - Billing: invoices, payments, reminders, rates and the DATEV export; the tenants' billing data.
#   Suspension for non-payment is the dunning run's (the system's), not a right of this role.
ROLES = {
    ADMIN: [
        ("tenants", "*", "*"),
        ("billing", "*", "*"),
        ("provisioning", "*", "*"),
        ("services", "*", "*"),
        ("django_celery_beat", "*", "*"),
        ("notifications", "*", ["view", "change"]),
        ("auth", "user", ["view", "add", "change"]),
        ("auth", "group", ["view"]),
    ],
    OPERATOR: [
        ("provisioning", "*", ["view"]),
        ("provisioning", None, ["operate_cluster"]),
        ("provisioning", "node", ["add", "change"]),
        ("provisioning", "image", ["add", "change"]),
        ("provisioning", "ippool", ["add", "change"]),
        ("provisioning", "operation", ["change"]),
        ("provisioning", "drift", ["change"]),
        ("tenants", "tenant", ["view"]),
        ("tenants", "membership", ["view"]),
        ("tenants", "auditevent", ["view"]),
        ("tenants", "servicerequest", ["view", "change"]),
        ("django_celery_beat", "*", ["view"]),
        # sees what was sent and sends failed deliveries again (notifications/admin.py)
        ("notifications", "*", ["view"]),
        ("notifications", "delivery", ["change"]),
    ],
    # Offers only: they write offers and read what an offer is built from; contracts and orders
    # follow from an accepted offer through services' actions, not from the admin.
    SALES: [
        ("services", "offer", ["view", "add", "change"]),
        ("services", "offerrevision", ["view", "add", "change"]),
        ("services", "*", ["view"]),
        ("services", None, ["sell"]),
    ],
    BILLING: [
        ("billing", "*", "*"),
        ("tenants", "tenant", ["view"]),
        ("tenants", None, ["view_billing"]),
        ("services", "contract", ["view"]),
    ],
}


def _wanted(permission, rules):
    app, codename = permission.content_type.app_label, permission.codename
    for rule_app, model, actions in rules:
        if rule_app != app:
            continue
        if model is None:
            if codename in actions:
                return True
            continue
        action, _sep, perm_model = codename.partition("_")
        if model != "*" and perm_model != model:
            continue
        if model == "*" and perm_model != permission.content_type.model:
            # custom permissions (view_billing, sell, ...) only through explicit rules or "*" actions
            if actions != "*":
                continue
        if actions == "*" or action in actions:
            return True
    return False


def sync_groups(apps=None):
    if apps is None:
        from django.apps import apps as global_apps

        apps = global_apps
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = list(Permission.objects.select_related("content_type"))
    for name, rules in ROLES.items():
        group, _created = Group.objects.get_or_create(name=name)
        group.permissions.set([p for p in perms if _wanted(p, rules)])
