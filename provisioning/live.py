"""Live figures of servers (CPU, memory, uptime, last seen) as reconcile last read them from Proxmox.

They change on every reconcile, so they live in the cache, one entry per tenant, and never in
the server rows: writing 100,000 rows a minute for numbers nobody keeps would be the whole cost
of reconcile. Pages and the API read them from here, never from Proxmox.
"""

from dataclasses import dataclass
from datetime import datetime

from django.core.cache import cache

TTL_SECONDS = 15 * 60  # older than this they are not live any more


@dataclass(frozen=True)
class Live:
    cpu: float = 0.0
    memory_used_mb: int = 0
    uptime: int = 0
    seen_at: datetime | None = None


NOTHING = Live()


def _key(tenant_id, cluster_id):
    return f"provisioning:live:{tenant_id}:{cluster_id}"


def store(cluster_id, figures, seen_at):
    """figures: {tenant id: {server id: (cpu, memory used MiB, uptime seconds)}} of one cluster.

    Per tenant, so a page reads only its own tenant's few figures, whatever the cluster's size.
    """
    cache.set_many({_key(tenant, cluster_id): {"seen_at": seen_at, "servers": rows} for tenant, rows in figures.items()},
                   TTL_SECONDS)


def for_servers(servers):
    """{server id: Live} for the given servers: one cache round trip."""
    servers = list(servers)
    keys = {_key(s.tenant_id, s.cluster_id) for s in servers}
    entries = cache.get_many(list(keys)) if keys else {}
    out = {}
    for server in servers:
        entry = entries.get(_key(server.tenant_id, server.cluster_id)) or {}
        row = entry.get("servers", {}).get(server.pk)
        out[server.pk] = Live(*row, seen_at=entry.get("seen_at")) if row is not None else NOTHING
    return out
