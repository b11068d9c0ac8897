#!/usr/bin/env bash
# The independent check of BENCHMARKS.md: wrk against `ledger serve` on a fresh
# PostgreSQL database and the real Redis.
#   cargo build --release -p ledger-bootstrap && bash bench/wrk/check.sh
# Env: PGURL (server, default postgres://postgres@127.0.0.1:5432), REDIS_URL, PORT,
# SECONDS_EACH (default 10), PROJECTIONS (true|false, default true).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
pgurl="${PGURL:-postgres://postgres@127.0.0.1:5432}"
port="${PORT:-8181}"
secs="${SECONDS_EACH:-10}"
db="ledger_wrk_$$"
psql "$pgurl/postgres" -qc "CREATE DATABASE $db"
cleanup() {
    [[ -n "${pid:-}" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    psql "$pgurl/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
}
trap cleanup EXIT
LEDGER__SERVER__ADDRESS="127.0.0.1:$port" \
LEDGER__STORAGE__URL="$pgurl/$db" \
LEDGER__STORAGE__MAX_CONNECTIONS=40 \
LEDGER__SNAPSHOTS__URL="${REDIS_URL:-redis://127.0.0.1:6379}" \
LEDGER__SNAPSHOTS__PREFIX="$db:" \
LEDGER__SNAPSHOTS__TTL_SECONDS=3600 \
LEDGER__PROJECTIONS__ENABLED="${PROJECTIONS:-true}" \
LEDGER__LOG__LEVEL=warn \
    "$root/target/release/ledger" serve &
pid=$!
for _ in $(seq 100); do curl -sf "localhost:$port/health" >/dev/null && break; sleep 0.1; done
# Accounts s-0 .. s-999 and hot, opened by one connection in order.
wrk -t1 -c1 -d6s -s "$here/open.lua" "http://127.0.0.1:$port" >/dev/null
opened=$(curl -s "localhost:$port/accounts/s-999" | grep -c '"account_id"' || true)
[[ "$opened" == 1 ]] || { echo "setup failed: s-999 not opened" >&2; exit 1; }
for scenario in spread hot; do
    echo "== $scenario (wrk -t2 -c32 -d${secs}s)"
    wrk -t2 -c32 -d"${secs}s" --latency -s "$here/$scenario.lua" "http://127.0.0.1:$port" \
        | grep -E "Requests/sec|  50%|  99%|Non-2xx|Socket errors" || true
done
