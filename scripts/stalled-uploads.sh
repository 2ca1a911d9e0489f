#!/usr/bin/env bash
# Memory held by stalled publish bodies (what --body-read-timeout and --body-buffer-bytes
# bound): builds release and runs server/examples/stalled_uploads.rs, which starts
# `pushbench serve`, opens N uploads that declare 1 MiB, send 1,048,000 bytes and stall, and
# prints the server's RSS before, while they stall, when --body-read-timeout cut them, and a
# little later.
#
# usage: scripts/stalled-uploads.sh [N] [-- SERVE_ARGS...]   (default 100 uploads)
# e.g.   scripts/stalled-uploads.sh 100 -- --body-buffer-bytes 2000000000   (no budget in the way)
set -euo pipefail
cd "$(dirname "$0")/.."

n=${1:-100}
shift || true
[ "${1:-}" = "--" ] && shift

cargo build -q --release -p loadgen --bin pushbench
cargo build -q --release -p server --example stalled_uploads
target_dir=${CARGO_TARGET_DIR:-target}
exec timeout 300 "$target_dir/release/examples/stalled_uploads" \
  --server "$target_dir/release/pushbench" --connections "$n" -- "$@"
