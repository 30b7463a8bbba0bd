#!/usr/bin/env bash
# `make test`: lint, then the whole suite against real PostgreSQL, Redis, Celery, pvesim and Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
export VAR_DIR="${VAR_DIR:-$(mktemp -d /tmp/jiku-var.XXXXXX)}"
# The official Proxmox schema sits beside the checkout; the simulator validates every call with it.
# A clone made elsewhere (CI) finds it beside the checkout it was cloned from.
for dir in ../shared/pve-api "$(git config --get remote.origin.url 2>/dev/null || true)/../shared/pve-api"; do
    if [ -z "${PVESIM_SCHEMA:-}" ] && [ -f "$dir/apidata.json" ]; then
        export PVESIM_SCHEMA="$(cd "$dir" && pwd)/apidata.json"
    fi
done
if [ -z "${PVESIM_SCHEMA:-}" ]; then
    echo "Note: ../shared/pve-api/apidata.json not found; pvesim checks calls without the official schema."
fi
.venv/bin/ruff check .
.venv/bin/python manage.py compilemessages -v 0 --ignore=.venv
# Several test processes (pytest-xdist), each with its own test database, Redis database, simulator
# and browser: most of a test's time is spent waiting on a Celery worker, the simulator or Chromium.
# One PowerDNS per process too (tests/parallel.py): the reverse-DNS tests empty its zones.
export PDNS_INSTANCES="${TEST_PROCESSES:-3}"
bash scripts/with-services.sh .venv/bin/python -m pytest -n "${TEST_PROCESSES:-3}" --dist worksteal "$@"
rc=$?
rm -rf "$VAR_DIR"
exit $rc
