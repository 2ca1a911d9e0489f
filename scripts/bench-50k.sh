#!/usr/bin/env bash
# The 50,000-client target (docs/SCALING.md): 50,000 concurrent SSE clients on one topic at
# 1 message/s, 256-byte payloads, on this machine. One process may hold only 20,000 descriptors, so the server runs
# as SERVER_PROCS SO_REUSEPORT processes (`serve --processes N`) and the clients in
# LOADGEN_PROCS worker processes (`run --processes N`), spread over 4 loopback source
# addresses (~28k ephemeral ports each per destination). Bounded: about 2-3 minutes.
#
#   scripts/bench-50k.sh [CLIENTS] [OUT_DIR]
#   env: SERVER_PROCS (3), LOADGEN_PROCS (3), DURATION (30s), RAMP_UP (2000 conn/s)
#
# Prints delivered/expected, lost, p50/p99/max latency, server CPU and RSS (all server
# processes summed) and the load generator's (coordinator + workers).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
clients="${1:-50000}"
out="${2:-$root/results/bench-50k-$(date -u +%Y%m%d-%H%M%S)}"
cargo build --release -p loadgen --manifest-path "$root/Cargo.toml" >&2
bin="${CARGO_TARGET_DIR:-$root/target}/release/pushbench"
timeout --signal=INT --kill-after=30 900 "$bin" run \
    --techniques sse --clients "$clients" --topics 1 --rate 1 --payload-bytes 256 \
    --server-processes "${SERVER_PROCS:-3}" --processes "${LOADGEN_PROCS:-3}" \
    --source-addrs 127.0.0.1-127.0.0.4 --ramp-up "${RAMP_UP:-2000}" \
    --warmup 5s --duration "${DURATION:-30s}" --drain 5s \
    --connect-timeout 15s --read-timeout 30s \
    --out "$out" --no-report
jq -r '.techniques[] | "\(.technique): \(.clients) clients, delivered \(.delivered)/\(.expected), lost \(.lost), latency p50 \(.latency_us.p50/1000) ms p99 \(.latency_us.p99/1000) ms max \(.latency_us.max/1000) ms, window \(.duration_s) s, server CPU \(.server_cpu_s) s (\((.server_cpu_s // 0) / .duration_s * 100 | floor)% of a core), server RSS \((.server_rss_bytes // 0) / 1048576 | floor) MiB (idle \((.server_rss_idle_bytes // 0) / 1048576 | floor) MiB), loadgen CPU \(.loadgen_cpu_s) s, loadgen RSS \((.loadgen_rss_bytes // 0) / 1048576 | floor) MiB, errors \(.errors), failure \(.failure)"' "$out/summary.json"
echo "run directory: $out"
