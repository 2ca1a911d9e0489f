#!/usr/bin/env bash
# Benchmark: load-generator memory per idle SSE client (target: 8 KiB or less).
# Runs SSE with 1 client and with N clients at a trickle (0.2 msg/s) and divides the growth of
# the load generator's peak RSS during the steady window by the extra clients.
#
#   scripts/bench-idle-sse.sh [N]      (default 5000; about 30 s)
#
# Knobs (environment): BENCH_NO_BUILD=1, PUSHBENCH_BIN (another binary, e.g. an older build).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
n="${1:-5000}"
if [ "${BENCH_NO_BUILD:-}" != 1 ] && [ -z "${PUSHBENCH_BIN:-}" ]; then
    cargo build --release -p loadgen --manifest-path "$root/Cargo.toml" >&2
fi
bin="${PUSHBENCH_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/pushbench}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
common=(run --techniques sse --rate 0.2 --payload-bytes 256 --ramp-up 5000 --warmup 1s
        --duration 5s --drain 1s --no-report --json)
"$bin" "${common[@]}" --clients 1 --out "$tmp/one" > "$tmp/one.json"
"$bin" "${common[@]}" --clients "$n" --out "$tmp/many" > "$tmp/many.json"
one=$(jq '.techniques[0].loadgen_rss_bytes' "$tmp/one.json")
many=$(jq '.techniques[0].loadgen_rss_bytes' "$tmp/many.json")
lost=$(jq '.techniques[0].lost' "$tmp/many.json")
echo "load-generator RSS: 1 client $one B, $n clients $many B, lost $lost"
echo "per idle SSE client: $(( (many - one) / (n - 1) )) B ($(( (many - one) / (n - 1) / 1024 )) KiB; target <= 8 KiB)"
