#!/usr/bin/env bash
# Runs the standard suite: every scenario under scenarios/ (chat, ticker, large payloads), one
# run directory each, into one results folder, then a comparison report across them.
#
#   scripts/suite.sh [OUT_DIR]        default: results/suite-<UTC timestamp>
#
# Bounded in time: each scenario takes 1-2 minutes on a 2-core machine and is stopped (SIGINT,
# so a partial run is still written) after SUITE_TIMEOUT seconds (default 300).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/results/suite-$(date -u +%Y%m%d-%H%M%S)}"
limit="${SUITE_TIMEOUT:-300}"

cargo build --release -p loadgen --manifest-path "$root/Cargo.toml" >&2
bin="${CARGO_TARGET_DIR:-$root/target}/release/pushbench"

mkdir -p "$out"
runs=()
status=0
for scenario in "$root"/scenarios/*.toml; do
    name="$(basename "$scenario" .toml)"
    echo "== $name ($scenario)" >&2
    if timeout --signal=INT --kill-after=30 "$limit" \
        "$bin" run --scenario "$scenario" --out "$out/$name"; then
        :
    else
        echo "!! $name did not finish cleanly (exit $?); its run directory may be partial" >&2
        status=1
    fi
    [ -f "$out/$name/manifest.json" ] && runs+=("$out/$name")
done

if [ "${#runs[@]}" -gt 1 ]; then
    "$bin" report "${runs[@]}" --out "$out/compare" || status=1
fi
echo "suite results: $out" >&2
exit "$status"
