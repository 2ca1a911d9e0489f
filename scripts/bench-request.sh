#!/usr/bin/env bash
# Benchmark: request-scoped streams (issue 16, docs/REQUEST.md). N concurrent streams of E events
# at one every I per technique (default: 1,000 × 200 events at 50 ms, 20 events/s per stream,
# 20,000 events/s in all), against the embedded server, and prints per technique: requests,
# events delivered/expected, lost, TTFT and ITL p50/p99, lateness p99, events/s, server CPU-s
# per 1M events and server memory per open stream, as a Markdown table.
#
#   scripts/bench-request.sh [N] [EVENTS] [INTERVAL] [OUT_DIR]   (defaults 1000 200 50ms; ~2 min)
#
# Knobs (environment): BENCH_NO_BUILD=1, PUSHBENCH_BIN (another binary), DURATION (default 20s),
# TECHNIQUES (default long-poll,stream,sse,ws).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
n="${1:-1000}"
events="${2:-200}"
interval="${3:-50ms}"
out="${4:-$(mktemp -d)/run}"
if [ "${BENCH_NO_BUILD:-}" != 1 ] && [ -z "${PUSHBENCH_BIN:-}" ]; then
    cargo build --release -p loadgen --manifest-path "$root/Cargo.toml" >&2
fi
bin="${PUSHBENCH_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/pushbench}"
command -v jq > /dev/null || { echo "bench-request.sh needs jq" >&2; exit 2; }
"$bin" run --mode request --techniques "${TECHNIQUES:-long-poll,stream,sse,ws}" \
    --concurrency "$n" --events "$events" --interval "$interval" \
    --duration "${DURATION:-20s}" --out "$out" --json > "$out.json"
echo "$n concurrent streams × $events events, one every $interval ($(date -u +%FT%TZ), $(nproc) cores)"
echo
echo "| technique | requests ok/failed | events delivered/expected | lost | TTFT p50 / p99 ms | ITL p50 / p99 ms | lateness p99 ms | events/s | server CPU-s per 1M events | server KiB per open stream |"
echo "|---|---|---|---|---|---|---|---|---|---|"
jq -r '.techniques[] | select(.request != null) |
  def ms: if . == null then "-" else (. / 100 | round / 10 | tostring) end;
  "| \(.technique) | \(.request.requests_completed)/\(.request.requests_failed) | \(.delivered)/\(.expected) | \(.lost) | \(.ttft_us.p50 | ms) / \(.ttft_us.p99 | ms) | \(.itl_us.p50 | ms) / \(.itl_us.p99 | ms) | \(.request.lateness_us.p99 | ms) | \(.request.events_per_s | round) | \(.request.server_cpu_s_per_1m_events) | \((.request.server_rss_per_stream_bytes // 0) / 1024 * 10 | round / 10) |"' "$out.json"
echo
echo "run directory: $out"
