#!/usr/bin/env bash
# `make test`: lint, then the whole suite against real PostgreSQL, Redis, Celery, pvesim and Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
export VAR_DIR="${VAR_DIR:-$(mktemp -d /tmp/jiku-var.XXXXXX)}"
# The official Proxmox schema sits beside the checkout; the simulator validates every call with it.
if [ -z "${PVESIM_SCHEMA:-}" ] && [ -f ../shared/pve-api/apidata.json ]; then
    export PVESIM_SCHEMA="$(cd ../shared/pve-api && pwd)/apidata.json"
fi
.venv/bin/ruff check .
.venv/bin/python manage.py compilemessages -v 0 --ignore=.venv
bash scripts/with-services.sh .venv/bin/python -m pytest "$@"
rc=$?
rm -rf "$VAR_DIR"
exit $rc
