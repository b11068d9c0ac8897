#!/usr/bin/env bash
# BENCHMARKS.md, "Unlogged rebuild copies": 2,000,000 audit-shaped rows copied into a
# logged table and into an unlogged one made logged afterwards, then the audit log's
# four indexes and ANALYZE; alternated. Needs a superuser PostgreSQL whose server can
# write /tmp (server-side COPY files).
#   bash bench/postgres/unlogged-copy.sh [postgres://postgres@127.0.0.1:5432]
set -euo pipefail
base=${1:-postgres://postgres@127.0.0.1:5432}
dir=$(mktemp -d /tmp/unlogged-copy.XXXX) && chmod 777 "$dir"
psql "$base/postgres" -Atq -c "DROP DATABASE IF EXISTS unlogged_copy" -c "CREATE DATABASE unlogged_copy"
P="psql $base/unlogged_copy -Atq"
$P -c "CREATE TABLE src AS SELECT g::bigint AS position, gen_random_uuid() AS event_id,
  (array['MoneyDeposited','MoneyWithdrawn','TransferReserved'])[1 + g % 3] AS event_type,
  'account-' || (g % 1000) AS stream_id, (g / 1000)::bigint AS version, 'admin'::text AS actor,
  gen_random_uuid()::text AS request_id, now() + g * interval '1 ms' AS recorded_at,
  (g % 100000)::bigint AS amount, 'EUR'::text AS currency FROM generate_series(1, 2000000) g"
for i in $(seq 0 19); do
    $P -c "COPY (SELECT * FROM src WHERE position > $i * 100000 AND position <= ($i + 1) * 100000
           ORDER BY position) TO '$dir/rows_$i.bin' (FORMAT binary)"
done
now() { date +%s.%N; }
run() {
    $P -c "DROP TABLE IF EXISTS t" -c "CHECKPOINT"
    local lsn0 s f l e
    lsn0=$($P -c "SELECT pg_current_wal_lsn()")
    s=$(now)
    $P -c "CREATE $1 TABLE t (LIKE src)"
    for i in $(seq 0 19); do $P -c "COPY t FROM '$dir/rows_$i.bin' (FORMAT binary)"; done
    f=$(now)
    if [ "$1" = UNLOGGED ]; then $P -c "ALTER TABLE t SET LOGGED"; fi
    l=$(now)
    $P -c "CREATE UNIQUE INDEX t_pk ON t (position)" &
    $P -c "CREATE INDEX t_type ON t (event_type, position)" &
    $P -c "CREATE INDEX t_request ON t (request_id)" &
    $P -c "CREATE INDEX t_time ON t USING brin (recorded_at)" &
    wait
    $P -c "ANALYZE t"
    e=$(now)
    echo "${1:-LOGGED}: fill $(echo "$f - $s" | bc) s, SET LOGGED $(echo "$l - $f" | bc) s," \
        "indexes + ANALYZE $(echo "$e - $l" | bc) s, total $(echo "$e - $s" | bc) s," \
        "WAL $($P -c "SELECT pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn0'))")"
}
for _ in 1 2; do run ""; run UNLOGGED; done
psql "$base/postgres" -Atq -c "DROP DATABASE unlogged_copy"
rm -rf "$dir"
