#!/usr/bin/env bash
# Benchmark: 10,000 clients of each technique at 1 message/s, 256-byte payloads,
# server (child process) and load generator together on this machine. Prints the summary
# table; the run directory holds everything (p99 latency, lost, CPU, RSS).
#
#   scripts/bench-10k.sh [CLIENTS] [OUT_DIR]
#
# Clients are spread over 8 loopback source addresses so the TIME_WAIT sockets left by one
# technique never exhaust the ephemeral ports of the next. About 2.5 minutes.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
clients="${1:-10000}"
out="${2:-$root/results/bench-10k-$(date -u +%Y%m%d-%H%M%S)}"
cargo build --release -p loadgen --manifest-path "$root/Cargo.toml" >&2
bin="${CARGO_TARGET_DIR:-$root/target}/release/pushbench"
timeout --signal=INT --kill-after=30 600 "$bin" run \
    --clients "$clients" --topics 1 --rate 1 --payload-bytes 256 \
    --poll-interval 1s --long-poll-timeout 5s --ramp-up 2500 \
    --warmup 3s --duration 10s --drain 3s --pause 2s \
    --connect-timeout 10s --read-timeout 20s \
    --source-addrs 127.0.0.1-127.0.0.8 --out "$out" --no-report
jq -r '.techniques[] | "\(.technique): delivered \(.delivered)/\(.expected), lost \(.lost), p50 \(.latency_us.p50) us, p99 \(.latency_us.p99) us, server CPU \(.server_cpu_s) s, server RSS \(.server_rss_bytes) B, loadgen CPU \(.loadgen_cpu_s) s, errors \(.errors)"' "$out/summary.json"
