#!/usr/bin/env bash
# The independent check of BENCHMARKS.md: wrk against `ledger serve` on a fresh
# PostgreSQL database and the real Redis.
#   cargo build --release -p ledger-bootstrap && bash bench/wrk/check.sh
# Env: PGURL (server, default postgres://postgres@127.0.0.1:5432), REDIS_URL, PORT,
# SECONDS_EACH (default 10), PROJECTIONS (true|false, default true), SCENARIOS
# (default "spread hot"); any LEDGER__* variable reaches the server.
# Each scenario starts after a CHECKPOINT and also prints the CPU the server and the
# PostgreSQL processes used per request, and how idle the machine was meanwhile.
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
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_ticks() {
    local t=0
    for p in $(pgrep -u postgres || true); do t=$((t + $(ticks "$p"))); done
    echo "$t"
}
hz=$(getconf CLK_TCK)
for scenario in ${SCENARIOS:-spread hot}; do
    echo "== $scenario (wrk -t2 -c32 -d${secs}s)"
    psql "$pgurl/$db" -qc CHECKPOINT
    s0=$(ticks "$pid"); p0=$(pg_ticks); read -r _ u0 n0 y0 i0 w0 q0 sq0 _ < /proc/stat
    out=$(wrk -t2 -c32 -d"${secs}s" --latency -s "$here/$scenario.lua" "http://127.0.0.1:$port")
    s1=$(ticks "$pid"); p1=$(pg_ticks); read -r _ u1 n1 y1 i1 w1 q1 sq1 _ < /proc/stat
    echo "$out" | grep -E "Requests/sec|  50%|  99%|Non-2xx|Socket errors" || true
    n=$(echo "$out" | awk '/requests in/ {print $1}')
    all=$(( (u1 + n1 + y1 + i1 + w1 + q1 + sq1) - (u0 + n0 + y0 + i0 + w0 + q0 + sq0) ))
    echo "  cpu per request: server $(( (s1 - s0) * 1000000 / hz / n )) us, postgres $(( (p1 - p0) * 1000000 / hz / n )) us; machine idle $(( ((i1 - i0) + (w1 - w0)) * 100 / all )) %"
done
