"""Every write on servers goes through one of these keyword-only actions (DESIGN.md section 3)."""

from .console import console_allowed, console_end, console_open  # noqa: F401
from .duties import CUSTOMER_DUTIES, ManagedByJiku, jiku_actions, jiku_holds, managed_actions  # noqa: F401
from .marketplace import (  # noqa: F401
    appliance_import,
    image_approve,
    image_await_on,
    image_fetch_to_new_nodes,
    oci_import,
    template_from_server,
)
from .rdns import ptr_delete, ptr_set, ptrs_recheck, validate_ptr_name  # noqa: F401
from .safety import (  # noqa: F401
    backup_create,
    backup_delete,
    backup_policy_set,
    backup_protect,
    backup_restore,
    backups_expire,
    drain_next,
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
    server_set_auto_restart,
    validate_hostname,
    validate_server_password,
    validate_size,
)
from .staff import (  # noqa: F401, E402
    adopt_defaults,
    check_reason,
    cluster_reconcile,
    cluster_test_connection,
    drift_ignore,
    drift_mark_deleted,
    node_check_joined,
    node_maintenance_announce,
    node_register_vds,
    node_set_maintenance,
    operation_cancel,
    server_adopt,
    tenant_suspend,
    tenant_unsuspend,
)
