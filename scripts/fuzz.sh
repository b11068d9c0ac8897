#!/usr/bin/env bash
# Runs the cargo-fuzz targets (money parsing, event decoding, the canonical encoding
# an event's hash covers) for a while each.
# Usage: bash scripts/fuzz.sh [seconds per target, default 20]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
if ! cargo fuzz --help >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked --quiet
fi
export RUSTC_BOOTSTRAP=1
for target in money_parse event_decode canonical_event; do
  cargo fuzz run "$target" -- -max_total_time="$seconds" -print_final_stats=1 2>&1 | tail -n 3
done
echo "fuzz.sh: every target ran ${seconds}s without a crash"
