#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL and Redis on free loopback ports, then removes them.
# Existing servers are used instead when DATABASE_URL and REDIS_URL are already set.
set -euo pipefail

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

tmp=""
cleanup() {
    if [ -n "$tmp" ]; then
        [ -f "$tmp/redis.pid" ] && kill "$(cat "$tmp/redis.pid")" 2>/dev/null || true
        if [ -f "$tmp/pg/postmaster.pid" ]; then
            if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$pgbin/pg_ctl" -D "$tmp/pg" -m immediate stop >/dev/null 2>&1 || true
            else "$pgbin/pg_ctl" -D "$tmp/pg" -m immediate stop >/dev/null 2>&1 || true; fi
        fi
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT INT TERM

if [ -z "${DATABASE_URL:-}" ] || [ -z "${REDIS_URL:-}" ]; then
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

"$@"
