#!/usr/bin/env bash
# The spread (wrk 2x32 deposits over `s-0`..`s-999`) against a saved copy of a large
# store, one PostgreSQL setting at a time: how BENCHMARKS.md's twenty-first session took
# apart what a deposit costs while it fills a vacuumed gap (issue 22, part 2). Needs root
# (it runs PostgreSQL as `postgres` and drops the page cache) and `bench/postgres/tuned.sh`'s
# cluster holding the store, e.g. one `ledger-bench --only-scale --scale-marks 10000000`
# stopped (SIGSTOP) once it prints its `## 10...` line, its server killed.
#   bash bench/postgres/spread-on-copy.sh save <database>      # tuned.sh's cluster, stopped
#   bash bench/postgres/spread-on-copy.sh run <label> <rounds> [postgres -c options...]
# `run` restores the copy, starts PostgreSQL with tuned.sh's options plus the given ones,
# starts `$LEDGER` (default target/release/ledger) on it, then runs <rounds> rounds of
# 10 s, each after a CHECKPOINT, printing requests/s, the CPU PostgreSQL and the server
# spent (ticks of 10 ms) and the WAL written. Environment switches:
#   SMALL=1     the same on a fresh database of 1,000 accounts on the same cluster
#   PREWARM=1   load every table and index into shared_buffers first (pg_prewarm)
#   STATS=1     print pg_stat_statements' top statements afterwards (add
#               -c shared_preload_libraries=pg_stat_statements)
#   WRITERS=n   storage.group_commit_writers
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
dir=${TUNED_PG_DIR:-/var/tmp/ledger-tuned-pg}
copy=${COPY_DIR:-/var/tmp/ledger-tuned-pg-copy}
ledger=${LEDGER:-$here/../../target/release/ledger}
port=8199
pg() { runuser -u postgres -- "$bin/pg_ctl" -D "$dir" "$@"; }
cpu() { # utime + stime of every process named $1, in ticks
    local t=0 p
    for p in $(pgrep -x "$1"); do
        set -- $(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null)
        t=$((t + ${12:-0} + ${13:-0}))
    done
    echo "$t"
}
case "${1:-}" in
save)
    pg -w stop -m fast >/dev/null 2>&1
    rm -rf "$copy" && cp -a "$dir" "$copy" && echo "$2" > "$copy/.database"
    ;;
run)
    label=$2 rounds=$3
    shift 3
    pkill -f "^$ledger\$"; pkill -x wrk; sleep 1
    pg -w stop -m fast >/dev/null 2>&1
    rm -rf "$dir" && cp -a "$copy" "$dir"
    # The same page cache for every run: the copy's files, read once.
    sync && echo 3 > /proc/sys/vm/drop_caches && cat "$dir"/base/*/* > /dev/null
    pg -l "$dir/log" -w start -o "-p 5499 -k /tmp -c listen_addresses=127.0.0.1 \
        -c shared_buffers=4GB -c effective_cache_size=16GB -c max_wal_size=8GB \
        -c autovacuum=on -c max_connections=200 $*" >/dev/null
    url=postgres://postgres@127.0.0.1:5499/$(cat "$dir/.database")
    if [ -n "${SMALL:-}" ]; then
        psql -q postgres://postgres@127.0.0.1:5499/postgres -c "CREATE DATABASE small"
        url=postgres://postgres@127.0.0.1:5499/small
    fi
    LEDGER__SERVER__ADDRESS=127.0.0.1:$port LEDGER__STORAGE__URL=$url \
        LEDGER__STORAGE__MAX_CONNECTIONS=40 LEDGER__STORAGE__GROUP_COMMIT_WRITERS=${WRITERS:-1} \
        LEDGER__SNAPSHOTS__URL=redis://127.0.0.1:6379 LEDGER__SNAPSHOTS__TTL_SECONDS=3600 \
        LEDGER__SNAPSHOTS__PREFIX="spread-on-copy-$label-$RANDOM:" LEDGER__LOG__LEVEL=warn \
        "$ledger" > "/tmp/spread-on-copy-$label.log" 2>&1 &
    server=$!
    if [ -n "${PREWARM:-}" ]; then
        psql -qAt "$url" -c "CREATE EXTENSION IF NOT EXISTS pg_prewarm" -c "SELECT sum(pg_prewarm(oid)) \
            FROM pg_class WHERE relkind IN ('r', 'i') AND relnamespace = 'public'::regnamespace"
    fi
    if [ -n "${STATS:-}" ]; then
        psql -q "$url" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
    fi
    until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.5; done
    if [ -n "${SMALL:-}" ]; then
        ops=$(seq 0 999 | sed 's/.*/{"op":"open_account","account_id":"s-&","owner":"Bench","currency":"USD"}/' | paste -sd,)
        curl -sf -X POST -H 'Content-Type: application/json' -d "{\"operations\":[$ops]}" \
            "http://127.0.0.1:$port/batches" >/dev/null
    fi
    [ -n "${STATS:-}" ] && psql -q "$url" -c "SELECT pg_stat_statements_reset()" >/dev/null
    for i in $(seq 1 "$rounds"); do
        psql -q "$url" -c CHECKPOINT
        lsn=$(psql -qAt "$url" -c "SELECT pg_current_wal_lsn()")
        pg0=$(cpu postgres) server0=$(cpu ledger)
        rate=$(wrk -t2 -c32 -d10s -s "$here/../wrk/spread.lua" "http://127.0.0.1:$port" \
            | grep -E "Requests/sec|Non-2xx" | tr -s ' \n' ' ')
        wal=$(psql -qAt "$url" -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn')")
        echo "$label round $i: $rate PostgreSQL $(($(cpu postgres) - pg0)) ticks," \
            "server $(($(cpu ledger) - server0)) ticks, WAL $wal bytes"
        sleep 5
    done
    if [ -n "${STATS:-}" ]; then
        psql -q "$url" -c "SELECT calls, round(mean_exec_time::numeric, 3) AS mean_ms, \
            round((shared_blks_hit + shared_blks_read)::numeric / greatest(calls, 1), 1) AS buffers, \
            left(regexp_replace(query, '\s+', ' ', 'g'), 90) AS query \
            FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 12"
    fi
    kill "$server"; wait "$server" 2>/dev/null
    ;;
*)
    echo "usage: $0 save <database> | run <label> <rounds> [postgres -c options...]" >&2
    exit 2
    ;;
esac
