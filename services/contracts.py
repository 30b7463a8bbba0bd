"""Who does what under a contract: the duty groups, the effective matrix and the backup policy."""

from django.utils.translation import gettext_lazy as _

from tenants.models import Duty, Party

SERVER_DUTIES = [Duty.PROVISIONING, Duty.UPDATES, Duty.BACKUPS, Duty.SNAPSHOTS, Duty.ROLLBACKS, Duty.MONITORING]
APPLICATION_DUTIES = [Duty.APP_USERS, Duty.TELEPHONY, Duty.APP_UPDATES]
DUTY_GROUPS = [
    (_("Infrastructure management"), [Duty.INFRASTRUCTURE]),
    (_("Server management"), SERVER_DUTIES),
    (_("Application management"), APPLICATION_DUTIES),
]


def effective_duties(tier, chosen=None):
    """The tier's defaults; only a customisable tier ("mittel") lets an offer move single duties."""
    duties = tier.default_duties()
    if tier.customisable and chosen:
        for duty, party in chosen.items():
            if duty in duties and party in Party.values:
                duties[duty] = party
    return duties


def manages_servers(duties):
    return any(duties.get(d) == Party.JIKU for d in SERVER_DUTIES)


def matrix(duties):
    """Rows for the responsibility table: (group, [(duty label, party label, held by JIKU)])."""
    return [
        (group, [(Duty(d).label, Party(duties.get(d, Party.CUSTOMER)).label, duties.get(d) == Party.JIKU) for d in members])
        for group, members in DUTY_GROUPS
    ]


def running_contract(tenant):
    return tenant.contracts.filter(ended_at__isnull=True).select_related("tier").first()


def default_backup_policy(tenant):
    """The policy for a new server of `tenant`: the tier's, where JIKU holds backups; else None."""
    contract = running_contract(tenant)
    if contract is None or not contract.tier.backup_policy:
        return None
    if not tenant.responsibilities.filter(duty=Duty.BACKUPS, party=Party.JIKU).exists():
        return None
    return dict(contract.tier.backup_policy)
