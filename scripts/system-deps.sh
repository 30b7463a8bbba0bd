#!/usr/bin/env bash
# Installs the system packages the tests need (as root, with apt), or says exactly what is missing.
set -euo pipefail

need=()
command -v redis-server >/dev/null || need+=(redis-server)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v msgfmt >/dev/null || need+=(gettext)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
# WeasyPrint (offer PDFs) loads Pango at run time.
ls /usr/lib/*/libpango-1.0.so.0 >/dev/null 2>&1 || need+=(libpango-1.0-0)
ls /usr/lib/*/libpangoft2-1.0.so.0 >/dev/null 2>&1 || need+=(libpangoft2-1.0-0)
# The invoice browser test renders the PDF pages to PNG.
command -v pdftoppm >/dev/null || need+=(poppler-utils)
# Reverse DNS tests: a real PowerDNS Authoritative with its HTTP API, zones kept in SQLite.
command -v pdns_server >/dev/null || [ -x /usr/sbin/pdns_server ] || need+=(pdns-server)
[ -f /usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql ] || need+=(pdns-backend-sqlite3)
# Validates docker-compose.yml in the tests.
command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || need+=(docker-compose)

[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing system packages: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
    echo "Missing system packages: ${need[*]}" >&2
    echo "Install them with: sudo apt-get install --no-install-recommends ${need[*]}" >&2
    exit 1
fi
