"""What the contract gives to JIKU, the customer cannot do through any door (browser, API, scripts).

One table names the duty each customer action needs. The actions call `require_duty`; the server
and contract pages read the same table to show "managed by JIKU" instead of the control; a test
walks the table through the browser and the API, so a new action cannot be forgotten.

JIKU staff (and the system: schedules, offer acceptance, suspension) act for JIKU and pass.
"""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _

from tenants.models import Duty

# action -> the duty the customer must hold to do it. Actions not named here need no duty:
# ordering, power, resize, rename, HA, a backup now, a restore into a new server, a staging copy.
CUSTOMER_DUTIES = {
    "snapshot_create": Duty.SNAPSHOTS,
    "snapshot_delete": Duty.SNAPSHOTS,
    # Whoever does the updates needs the safety snapshot before them.
    "snapshot_before_update": Duty.UPDATES,
    "snapshot_rollback": Duty.ROLLBACKS,
    # Restoring over the server throws its current state away, like a rollback.
    "backup_restore_same": Duty.ROLLBACKS,
    "backup_policy_set": Duty.BACKUPS,
    "backup_delete": Duty.BACKUPS,
    "backup_protect": Duty.BACKUPS,
    # A server JIKU set up and runs is reinstalled, replaced or removed by JIKU (a staging copy,
    # the customer's own test, they discard themselves).
    "server_reinstall": Duty.PROVISIONING,
    "server_delete": Duty.PROVISIONING,
    "staging_promote": Duty.PROVISIONING,
}

# What the contract page lists as JIKU's, in the customer's words.
ACTION_LABELS = {
    "snapshot_create": _("take snapshots"),
    "snapshot_delete": _("delete snapshots"),
    "snapshot_before_update": _("take the snapshot before an update"),
    "snapshot_rollback": _("roll a server back to a snapshot"),
    "backup_restore_same": _("restore a backup over its server (restoring into a new server stays yours)"),
    "backup_policy_set": _("change the backup schedule and retention"),
    "backup_delete": _("delete backups"),
    "backup_protect": _("protect or unprotect backups"),
    "server_reinstall": _("reinstall a server"),
    "server_delete": _("delete a server (discarding a staging copy stays yours)"),
    "staging_promote": _("promote a staging copy to production"),
}

MANAGED_MESSAGE = _("JIKU manages this for your tenant under your contract; please send JIKU a request instead.")


class ManagedByJiku(PermissionDenied):
    """Refused because the contract gives the duty to JIKU; the API answers 403 with this code."""

    code = "managed_by_jiku"

    def __init__(self, duty):
        self.duty = duty
        super().__init__(str(MANAGED_MESSAGE))


def acts_for_jiku(user):
    return user is None or bool(getattr(user, "is_staff", False))


def jiku_holds(tenant, action, user=None):
    """Whether `action` is JIKU's under the tenant's contract (for `user`; staff always may)."""
    duty = CUSTOMER_DUTIES[action]
    return not acts_for_jiku(user) and tenant.managed_by_jiku(duty)


def require_duty(*, tenant, action, user):
    if jiku_holds(tenant, action, user):
        raise ManagedByJiku(CUSTOMER_DUTIES[action])


def jiku_actions(tenant):
    """What JIKU does instead of the tenant's members under the contract, in the customer's words."""
    return [ACTION_LABELS[a] for a, duty in CUSTOMER_DUTIES.items() if tenant.managed_by_jiku(duty)]


def managed_actions(tenant, user=None):
    """The set of actions the page should show as "managed by JIKU" for this user."""
    return {action for action in CUSTOMER_DUTIES if jiku_holds(tenant, action, user)}
