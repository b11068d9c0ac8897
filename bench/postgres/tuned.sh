#!/usr/bin/env bash
# A private PostgreSQL 15 sized for a ten-million-event store, for ledger-bench's scale
# run (BENCHMARKS.md, issue 22): shared_buffers 4 GB (the events table's indexes at ten
# million events are about 1.5 GB), autovacuum on, max_wal_size 8 GB. Everything else is
# PostgreSQL's default, as on the machine's own server.
#   bash bench/postgres/tuned.sh start   # prints the URL for LEDGER_TEST_DATABASE_URL
#   bash bench/postgres/tuned.sh stop
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
dir=${TUNED_PG_DIR:-/var/tmp/ledger-tuned-pg}
port=${TUNED_PG_PORT:-5499}
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "${1:-start}" in
start)
    if [ ! -d "$dir" ]; then
        mkdir -p "$dir" && chown postgres "$dir" 2>/dev/null || true
        as_postgres "$bin/initdb" -D "$dir" -U postgres --auth=trust >/dev/null
    fi
    as_postgres "$bin/pg_ctl" -D "$dir" -l "$dir/log" -w start -o "-p $port -k /tmp \
        -c listen_addresses=127.0.0.1 -c shared_buffers=4GB -c effective_cache_size=16GB \
        -c max_wal_size=8GB -c autovacuum=on -c max_connections=200" >/dev/null
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
stop)
    as_postgres "$bin/pg_ctl" -D "$dir" -w stop -m fast >/dev/null
    ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
