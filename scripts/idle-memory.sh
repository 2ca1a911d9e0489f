#!/usr/bin/env bash
# Idle memory per connection, per technique (what a waiting subscriber costs the server):
# builds release and runs server/examples/idle_memory.rs, which starts a fresh `pushbench serve`
# per technique, opens N idle connections, and prints the server's RSS growth per connection.
#
# usage: scripts/idle-memory.sh [N]            (default 5000 connections per technique)
# env:   TECHNIQUES=sse,stream,long-poll,ws,poll   which techniques, in order
#        SETTLE_S=1   seconds the connections sit idle before the second RSS reading
# Anything after `--` is passed to `pushbench serve`, e.g. `scripts/idle-memory.sh 5000 -- --heartbeat 15s`.
set -euo pipefail
cd "$(dirname "$0")/.."

n=${1:-5000}
shift || true
[ "${1:-}" = "--" ] && shift

cargo build -q --release -p loadgen --bin pushbench
cargo build -q --release -p server --example idle_memory
target_dir=${CARGO_TARGET_DIR:-target}

# One process may hold at most 20,000 descriptors here; ask for what we may.
ulimit -n 20000 2>/dev/null || true
exec timeout 900 "$target_dir/release/examples/idle_memory" \
  --server "$target_dir/release/pushbench" \
  --connections "$n" \
  --techniques "${TECHNIQUES:-sse,stream,long-poll,ws,poll}" \
  --settle-s "${SETTLE_S:-1}" \
  -- "$@"
