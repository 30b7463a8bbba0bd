#!/usr/bin/env bash
# `make demo`: the portal with zero services (SQLite, file broker) against the Proxmox simulator.
set -uo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-8000}"
PVE_PORT="${PVE_PORT:-8006}"
export VAR_DIR="${VAR_DIR:-$PWD/var}"
# Every mail the demo sends (sign-up, invitations, notifications) is a file a newcomer can read.
export EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend" EMAIL_FILE_PATH="$VAR_DIR/mail"
# The demo's secrets (database, secret_key, the simulator's key and token) are for this user only.
umask 077
mkdir -p "$VAR_DIR/pvesim"
PY=.venv/bin/python

pids=()
stop() {
    echo; echo "Stopping the demo..."
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    wait 2>/dev/null
    exit 0
}
trap stop INT TERM

# The simulator keeps its state in memory, so the portal's demo database starts fresh with it.
rm -rf "$VAR_DIR/db.sqlite3" "$VAR_DIR/broker" "$VAR_DIR/cache"
$PY manage.py migrate -v 0 || exit 1
if command -v msgfmt >/dev/null; then
    # The catalogues are part of the checkout, not secrets: the usual file modes.
    (umask 022; $PY manage.py compilemessages -v 0 --ignore=.venv >/dev/null 2>&1) || echo "(translations not compiled)"
else
    echo "Note: gettext is not installed, so the portal shows English instead of German."
fi

# The simulator keeps one token and certificate across demo runs, so the portal's cluster stays valid.
[ -f "$VAR_DIR/pvesim/token" ] || $PY -c "import secrets; print(secrets.token_hex(16))" > "$VAR_DIR/pvesim/token"
[ -f "$VAR_DIR/pvesim/cert.pem" ] || $PY -c "from pvesim.certs import generate; generate('$VAR_DIR/pvesim')"
# Files left by older runs (made before the umask above) are tightened too.
chmod 600 "$VAR_DIR/db.sqlite3" "$VAR_DIR/secret_key" "$VAR_DIR/pvesim/token" "$VAR_DIR/pvesim/key.pem" 2>/dev/null
TOKEN="root@pam!portal=$(cat "$VAR_DIR/pvesim/token")"
$PY -m pvesim --port "$PVE_PORT" --token "$TOKEN" --scenario demo --time-scale 1.0 \
    --cert "$VAR_DIR/pvesim/cert.pem" --key "$VAR_DIR/pvesim/key.pem" > "$VAR_DIR/pvesim.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
    $PY -c "import socket; socket.create_connection(('127.0.0.1', $PVE_PORT), 1)" 2>/dev/null && break
    sleep 0.2
done

# The simulator also stands in for Docker Hub's registry (application containers in the marketplace).
export OCI_REGISTRY_ENDPOINTS="docker.io=https://127.0.0.1:$PVE_PORT/registry" OCI_REGISTRY_CA="$VAR_DIR/pvesim/cert.pem"
$PY -m celery -A portal worker -B -P threads -c 4 -l WARNING --schedule "$VAR_DIR/celerybeat-schedule" > "$VAR_DIR/worker.log" 2>&1 &
pids+=($!)

DEMO_PVE="127.0.0.1:$PVE_PORT" DEMO_PVE_TOKEN="$TOKEN" DEMO_PVE_CA="$VAR_DIR/pvesim/cert.pem" $PY manage.py demo_seed

# One ASGI process serves pages and the console's websockets; with no Redis, Channels uses its
# in-memory layer, which reaches every console because there is only this one process.
$PY -m uvicorn portal.asgi:application --host 127.0.0.1 --port "$PORT" --ws websockets-sansio --lifespan off \
    > "$VAR_DIR/web.log" 2>&1 &
pids+=($!)
sleep 2
cat <<EOT

  JIKU Cloud demo is running: http://127.0.0.1:$PORT/

  Logins (password for all: demo-passwort-2026)
    Customer (owner of Musterfirma GmbH):  kunde@demo.jiku
    Customer (member):                     mitarbeiter@demo.jiku
    JIKU admin:                            admin@demo.jiku      (/staff/ and /admin/)
    JIKU operator:                         operator@demo.jiku   (/staff/, no credentials, no billing data)
    JIKU sales:                            vertrieb@demo.jiku   (/sales/offers/)

  Beispiel KG's sold VDS waits for installation (/staff/ -> node vds-beispiel). To install it:
    curl -sk -H "Authorization: PVEAPIToken=$TOKEN" -H "Content-Type: application/json" \
      -d '{"cores": 6, "memory_gb": 24, "disk_gb": 4000}' https://127.0.0.1:$PVE_PORT/_sim/nodes/vds-beispiel/join
    curl -sk -H "Authorization: PVEAPIToken=$TOKEN" -d storage=local \
      -d template=debian-12-standard_12.7-1_amd64.tar.zst https://127.0.0.1:$PVE_PORT/api2/json/nodes/vds-beispiel/aplinfo
  then press "Check now" on its node page.

  Web server: uvicorn (ASGI) for pages and console websockets; Channels' in-memory layer (no Redis).
  Proxmox simulator: https://127.0.0.1:$PVE_PORT/api2/json (token $TOKEN)
  Mails (sign-up, invitations, notifications): one file each in $VAR_DIR/mail/
  Logs: $VAR_DIR/{web,worker,pvesim}.log          Press Ctrl-C to stop everything.

EOT
wait
