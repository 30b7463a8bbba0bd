"""Every write on servers goes through one of these keyword-only actions (DESIGN.md section 3)."""

from .safety import (  # noqa: F401
    backup_create,
    backup_delete,
    backup_policy_set,
    backup_protect,
    backup_restore,
    backups_expire,
    ha_set,
    node_drain,
    server_migrate,
    snapshot_before_update,
    snapshot_create,
    snapshot_delete,
    snapshot_rollback,
    staging_create,
    staging_promote,
)
from .servers import (  # noqa: F401
    POWER_RULES,
    check_quota,
    operation_retry,
    quota_usage,
    reserve_server,
    server_create,
    server_delete,
    server_power,
    server_reinstall,
    server_rename,
    server_resize,
    validate_hostname,
)
