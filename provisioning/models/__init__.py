"""The provisioning app's models, one module per domain noun; every name is importable from here."""

from .backups import Backup, BackupPolicy, BackupQuerySet, Snapshot  # noqa: F401
from .consoles import ConsoleSession  # noqa: F401
from .drift import Drift  # noqa: F401
from .firewall import FIREWALL_NAME, AddressSet, Firewall, FirewallRule, SecurityGroup, Verdict  # noqa: F401
from .images import Image  # noqa: F401
from .infrastructure import Cluster, IPPool, Node, NodeMetrics  # noqa: F401
from .operations import FAILURE_DEFAULT, FAILURE_MESSAGES, OPERATION_KINDS, Operation  # noqa: F401
from .reverse_dns import PtrRecord  # noqa: F401
from .servers import KIND_LABELS, STATUS_LABELS, Server, ServerQuerySet  # noqa: F401
