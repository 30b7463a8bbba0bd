"""What can be told, to whom by default, and which mails nobody may switch off.

notifications sits at the bottom beside tenants (DESIGN.md 2): every app may record an event, and
this app imports none of them. So the tenant roles are spelled here by their stored values; the
recipients are read through the tenant's `memberships` relation (selectors.py).
"""

from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _

CUSTOMER, STAFF = "customer", "staff"
OWNER, ADMIN, MEMBER, VIEWER = "owner", "admin", "member", "viewer"
WORKING_ROLES = frozenset({OWNER, ADMIN, MEMBER})
MANAGERS = frozenset({OWNER, ADMIN})


@dataclass(frozen=True)
class Kind:
    key: str
    label: str
    audience: str = CUSTOMER
    # Customer kinds: the roles that get the mail unless they switched it off.
    roles: frozenset = field(default=WORKING_ROLES)
    # Security mails always reach the tenant's owners, whatever their preference says.
    security: bool = False
    # Staff kinds: the permission a staff account needs to hear of it.
    permission: str = ""
    # False: webhooks only (the "send test" button), never a mail.
    mail: bool = True
    # Mailed to the address (and in the language) the event's payload names, someone who may have
    # no account yet (an invitation); never to members, never to webhooks, no preference.
    addressed: bool = False
    # False: never POSTed to the tenant's webhooks (news about the webhooks themselves).
    webhook: bool = True
    # True: news that stops being true when its subject is gone (a revoked or replaced invitation)
    # or says so itself (its `notice_lapsed(payload)`: an offer declined or revised since); a
    # delivery still waiting then (SMTP was down) is dropped instead of sent.
    lapses: bool = False


KINDS = {
    kind.key: kind
    for kind in [
        Kind("server_built", _("Server built")),
        Kind("server_build_failed", _("Server build failed")),
        Kind("restore_done", _("Restore finished")),
        Kind("restore_failed", _("Restore failed")),
        Kind("backup_failed", _("Scheduled backup failed"), roles=MANAGERS),
        Kind("backup_recovered", _("Scheduled backup works again"), roles=MANAGERS),
        Kind("server_unavailable", _("Server unavailable after a node failure")),
        Kind("server_available", _("Server available again")),
        Kind("server_ha_moved", _("Server moved by high availability"), roles=MANAGERS),
        Kind("maintenance_planned", _("Planned maintenance")),
        Kind("request_answered", _("Service request answered")),
        Kind("invitation", _("Invitation"), roles=frozenset(), addressed=True, lapses=True),
        Kind("offer_sent", _("Offer sent to a prospect"), roles=frozenset(), addressed=True, lapses=True),
        Kind("member_joined", _("New member in the team"), roles=MANAGERS, security=True),
        # Whoever controls a webhook reads every event of the tenant: owners hear of each change.
        Kind("webhook_changed", _("Webhook registered, removed or given a new secret"), roles=MANAGERS, security=True,
             webhook=False),
        Kind("invoice_issued", _("Invoice issued"), roles=MANAGERS),
        Kind("payment_reminder", _("Payment reminder"), roles=MANAGERS),
        Kind("webhook_test", _("Webhook test"), roles=frozenset(), mail=False),
        Kind("staff_request_new", _("New service request"), audience=STAFF,
             permission="tenants.change_servicerequest"),
        Kind("staff_operation_failed", _("Operation failed"), audience=STAFF,
             permission="provisioning.change_operation"),
        Kind("staff_operation_stalled", _("Operation stalled"), audience=STAFF,
             permission="provisioning.change_operation"),
        Kind("staff_server_stopped", _("Customer's server stopped unexpectedly"), audience=STAFF,
             permission="provisioning.change_operation"),
        Kind("staff_node_offline", _("Node offline"), audience=STAFF, permission="provisioning.change_node"),
        Kind("staff_drift_found", _("Drift found"), audience=STAFF, permission="provisioning.change_drift"),
    ]
}


def kind_for(key):
    try:
        return KINDS[key]
    except KeyError:
        raise ValueError(f"unknown notification kind {key}") from None


def wanted(kind, role, preference):
    """Whether a recipient with this tenant role (None for staff) and preference (None: never set)
    gets the mail."""
    if kind.security and role == OWNER:
        return True
    if preference is not None:
        return preference
    return kind.audience == STAFF or role in kind.roles
