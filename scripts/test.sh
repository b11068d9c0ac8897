#!/usr/bin/env bash
# Runs every test of the workspace against real PostgreSQL, Redis and NATS (JetStream),
# then schemathesis against the served OpenAPI document. Installs Chromium and ChromeDriver
# for the console tests when absent.
# Starts them when they are not running, installing them with apt-get when absent.
# Tests that need a database fail loudly when it is missing; none skips silently.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_HOST=127.0.0.1
PG_PORT=5432
export LEDGER_TEST_DATABASE_URL="${LEDGER_TEST_DATABASE_URL:-postgres://postgres:postgres@$PG_HOST:$PG_PORT/postgres}"
export LEDGER_TEST_REDIS_URL="${LEDGER_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
export LEDGER_TEST_NATS_URL="${LEDGER_TEST_NATS_URL:-nats://127.0.0.1:4222}"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

ensure_postgres() {
  if command -v pg_isready >/dev/null && pg_isready -q -h "$PG_HOST" -p "$PG_PORT"; then
    return
  fi
  if ! command -v pg_ctlcluster >/dev/null; then
    echo "test.sh: installing PostgreSQL with apt-get" >&2
    apt_install postgresql postgresql-client
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  if [ ! -d "/etc/postgresql/$version/main" ]; then
    as_root pg_createcluster "$version" main >/dev/null
  fi
  echo "test.sh: starting PostgreSQL $version" >&2
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 60); do
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" && break
    sleep 0.5
  done
  pg_isready -h "$PG_HOST" -p "$PG_PORT"
  # A fresh cluster asks for a password on TCP: give the test user the one in the URL.
  as_root su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null 2>&1 || true
}

ensure_redis() {
  if command -v redis-cli >/dev/null && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    return
  fi
  if ! command -v redis-server >/dev/null; then
    echo "test.sh: installing Redis with apt-get" >&2
    apt_install redis-server
  fi
  echo "test.sh: starting Redis" >&2
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 60); do
    redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break
    sleep 0.5
  done
  redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null
}

nats_up() { (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; }

ensure_nats() {
  if nats_up; then
    return
  fi
  if ! command -v nats-server >/dev/null; then
    echo "test.sh: installing nats-server with apt-get" >&2
    apt_install nats-server
  fi
  echo "test.sh: starting nats-server with JetStream" >&2
  mkdir -p /var/lib/nats-ci
  nohup nats-server -js -a 127.0.0.1 -p 4222 -sd /var/lib/nats-ci >/var/log/nats-ci.log 2>&1 &
  for _ in $(seq 1 60); do
    nats_up && break
    sleep 0.5
  done
  nats_up
}

ensure_chromium() {
  if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    return
  fi
  echo "test.sh: installing Chromium and ChromeDriver (the console tests) with apt-get" >&2
  apt_install chromium chromium-driver
}

ensure_postgres
ensure_redis
ensure_nats
ensure_chromium
# The relay tests start private nats-server processes as well.
command -v nats-server >/dev/null || apt_install nats-server
cargo test --workspace --locked "$@"
# The served OpenAPI document against the running binary (SQLite and PostgreSQL).
bash scripts/schemathesis.sh
# The README's walkthrough, verbatim, against the same binary.
python3 scripts/readme.py "${CARGO_TARGET_DIR:-target}/debug/ledger"
