#!/usr/bin/env bash
# Runs the three reference workloads of ringcast-load against the ideal floor-server
# (../shared/peers/floor), a fresh server per run, and leaves the JSON reports in $OUT.
# Usage: bench/loadgen/floor.sh [OUT_DIR]   (env: FLOOR_DIR, PORT, CARGO_TARGET_DIR)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
floor_dir=${FLOOR_DIR:-$root/../shared/peers/floor}
port=${PORT:-6201}
out=${1:-/tmp/ringcast-load}
mkdir -p "$out"
target=${CARGO_TARGET_DIR:-$root/target}
(cd "$root" && cargo build --release -q -p ringcast-load)
(cd "$floor_dir" && CARGO_TARGET_DIR=${FLOOR_TARGET_DIR:-$target/floor} cargo build --release -q)
server=${FLOOR_TARGET_DIR:-$target/floor}/release/floor-server
load=$target/release/ringcast-load

run() { # name, args...
  local name=$1; shift
  "$server" "$port" 2 >/dev/null 2>&1 &
  local pid=$!
  sleep 0.3
  local rc=0
  "$load" --port "$port" --server-pid "$pid" --json "$out/$name.json" "$@" || rc=$?
  kill "$pid"; wait "$pid" 2>/dev/null || true
  [ "$rc" -eq 0 ] || { echo "$name: ringcast-load exited $rc" >&2; return "$rc"; }
}

run fanout-1k fanout --connections 1000 --rate 10 --duration 10
run fanout-10k fanout --connections 10000 --rate 2 --duration 10
run channels-1k channels --connections 1000 --channels 10 --rate 1000 --duration 10
echo "reports in $out" >&2
