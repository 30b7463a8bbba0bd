#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL, Redis and PowerDNS on free loopback ports, then removes them.
# Existing servers are used instead when DATABASE_URL, REDIS_URL and PDNS_API_URL are already set;
# without PowerDNS installed the command runs without it (reverse DNS shows as unavailable).
set -euo pipefail

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

tmp=""
cleanup() {
    if [ -n "$tmp" ]; then
        [ -f "$tmp/redis.pid" ] && kill "$(cat "$tmp/redis.pid")" 2>/dev/null || true
        for pid in "$tmp"/pdns-*/pid; do [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true; done
        if [ -f "$tmp/pg/postmaster.pid" ]; then
            if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$pgbin/pg_ctl" -D "$tmp/pg" -m immediate stop >/dev/null 2>&1 || true
            else "$pgbin/pg_ctl" -D "$tmp/pg" -m immediate stop >/dev/null 2>&1 || true; fi
        fi
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT INT TERM

pdns_server=$(command -v pdns_server || echo /usr/sbin/pdns_server)
pdns_schema=/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql
want_pdns=""
if [ -z "${PDNS_API_URL:-}" ] && [ -x "$pdns_server" ] && [ -f "$pdns_schema" ]; then want_pdns=1; fi

if [ -z "${DATABASE_URL:-}" ] || [ -z "${REDIS_URL:-}" ] || [ -n "$want_pdns" ]; then
    tmp=$(mktemp -d /tmp/jiku-services.XXXXXX)
    chmod 755 "$tmp"
fi

if [ -z "${DATABASE_URL:-}" ]; then
    pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    pgport=$(free_port)
    mkdir -p "$tmp/pg"
    as_pg=()
    if [ "$(id -u)" = 0 ]; then chown postgres "$tmp/pg"; as_pg=(runuser -u postgres --); fi
    "${as_pg[@]}" "$pgbin/initdb" -D "$tmp/pg" -A trust -U postgres -E UTF8 >/dev/null
    "${as_pg[@]}" "$pgbin/pg_ctl" -D "$tmp/pg" -w -l "$tmp/pg/server.log" \
        -o "-p $pgport -k $tmp/pg -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null
    export DATABASE_URL="postgres://postgres@127.0.0.1:$pgport/portal"
    "$pgbin/createdb" -h 127.0.0.1 -p "$pgport" -U postgres portal
fi

if [ -z "${REDIS_URL:-}" ]; then
    rport=$(free_port)
    redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
        --pidfile "$tmp/redis.pid" --dir "$tmp" --logfile "$tmp/redis.log"
    for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
    export REDIS_URL="redis://127.0.0.1:$rport/0"
fi
export CELERY_BROKER_URL="${CELERY_BROKER_URL:-$REDIS_URL}"

start_pdns() {  # $1: the instance's number; writes "api-url api-key resolver" to its env file
    local dir="$tmp/pdns-$1" dport wport key
    dport=$(free_port)
    wport=$(free_port)
    mkdir -p "$dir"
    python3 -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).executescript(open(sys.argv[2]).read())' \
        "$dir/pdns.sqlite3" "$pdns_schema"
    key=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
    cat >"$dir/pdns.conf" <<EOF
launch=gsqlite3
gsqlite3-database=$dir/pdns.sqlite3
local-address=127.0.0.1
local-port=$dport
api=yes
api-key=$key
webserver=yes
webserver-address=127.0.0.1
webserver-port=$wport
webserver-allow-from=127.0.0.1
socket-dir=$dir
security-poll-suffix=
daemon=no
guardian=no
EOF
    "$pdns_server" --config-dir="$dir" >"$dir/server.log" 2>&1 &
    echo $! >"$dir/pid"
    for _ in $(seq 50); do
        python3 -c 'import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1], headers={"X-API-Key": sys.argv[2]}), timeout=1)' \
            "http://127.0.0.1:$wport/api/v1/servers/localhost" "$key" 2>/dev/null && break
        sleep 0.1
    done
    echo "http://127.0.0.1:$wport $key 127.0.0.1:$dport" >"$dir/env"
}

if [ -n "$want_pdns" ]; then
    # Authoritative for the zones the tests create through its API, and the tests' resolver too.
    # PDNS_INSTANCES > 1 starts one per test process (tests/parallel.py picks PDNS_API_URL_<n>...),
    # because the reverse-DNS tests empty its zones.
    for i in $(seq 0 $(( ${PDNS_INSTANCES:-1} - 1 ))); do
        start_pdns "$i"
        read -r url key resolver <"$tmp/pdns-$i/env"
        if [ "$i" = 0 ]; then export PDNS_API_URL="$url" PDNS_API_KEY="$key" DNS_RESOLVER="$resolver"
        else export "PDNS_API_URL_$i=$url" "PDNS_API_KEY_$i=$key" "DNS_RESOLVER_$i=$resolver"; fi
    done
fi

"$@"
