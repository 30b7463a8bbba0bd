"""Loaded before Django's settings (`-p tests.parallel`): each pytest-xdist process gets its own
Redis database, so the Celery worker one process starts never takes another process's tasks and
the caches stay apart, and its own PowerDNS when scripts/with-services.sh started one per process
(its tests empty the zones). PostgreSQL needs nothing here: pytest-django gives each process its
own test database."""

import os
import re

_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _worker.startswith("gw"):
    database = int(_worker[2:]) + 1  # 0 stays with runs without xdist
    if database > 15:
        raise RuntimeError("Redis has 16 databases: run at most 15 test processes")
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        if os.environ.get(name, "").startswith("redis://"):
            os.environ[name] = re.sub(r"(/\d+)?$", f"/{database}", os.environ[name], count=1)
    for name in ("PDNS_API_URL", "PDNS_API_KEY", "DNS_RESOLVER"):
        if own := os.environ.get(f"{name}_{database - 1}"):
            os.environ[name] = own
