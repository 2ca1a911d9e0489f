#!/usr/bin/env bash
# Benchmark (issue 18, docs/SCALING.md): what a backplane costs. One sitting, alternating the
# setups ROUNDS times on identical work (CLIENTS SSE clients, RATE msg/s, one topic):
#   1 instance without a broker | 3 processes over the supervisor's relay (--server-processes 3)
#   | 3 instances over Redis | 3 instances over NATS
# and prints, per setup, the median over the rounds of: delivered/expected, p50 / p99 latency,
# server CPU-s per 1M deliveries (the instances and their supervisor; the broker not included),
# the broker's own CPU-s per 1M deliveries and its messages/s, as a Markdown table.
#
#   scripts/bench-broker.sh [CLIENTS] [RATE] [OUT_DIR]     (defaults 10000 10; ~4 min a round)
#
# Knobs (environment): ROUNDS (default 2), DURATION (default 20s), INSTANCES (default 3),
# SETUPS (default "single relay redis nats"), BENCH_NO_BUILD=1, PUSHBENCH_BIN (another binary),
# EXTRA (more `pushbench run` flags). Needs jq, redis-server and nats-server
# (apt-get install jq redis-server nats-server). A quiet machine: the figures are CPU.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
clients="${1:-10000}"
rate="${2:-10}"
out="${3:-$(mktemp -d)}"
rounds="${ROUNDS:-2}"
n="${INSTANCES:-3}"
if [ "${BENCH_NO_BUILD:-}" != 1 ] && [ -z "${PUSHBENCH_BIN:-}" ]; then
    cargo build --release -p loadgen --manifest-path "$root/Cargo.toml" >&2
fi
bin="${PUSHBENCH_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/pushbench}"
command -v jq > /dev/null || { echo "bench-broker.sh needs jq" >&2; exit 2; }
mkdir -p "$out"
declare -A flags=(
    [single]=""
    [relay]="--server-processes $n"
    [redis]="--server-processes $n --broker redis"
    [nats]="--server-processes $n --broker nats"
)
declare -A label=(
    [single]="1 instance, no broker"
    [relay]="$n processes, relay"
    [redis]="$n instances, Redis"
    [nats]="$n instances, NATS"
)
setups=(${SETUPS:-single relay redis nats})
for r in $(seq 1 "$rounds"); do
    for s in "${setups[@]}"; do
        echo "== round $r: ${label[$s]}" >&2
        # shellcheck disable=SC2086 # the flags are words
        "$bin" run --techniques sse --clients "$clients" --rate "$rate" --topics 1 \
            --duration "${DURATION:-20s}" ${flags[$s]} ${EXTRA:-} --no-report --json \
            --out "$out/$s-$r" > "$out/$s-$r.json" || echo "the $s run $r failed (exit $?)" >&2
    done
done
# One line of figures per run, then the median per setup.
row() {
    jq -r '.techniques[] | select(.technique == "sse") |
      [.delivered, .expected, (.latency_us.p50 // 0) / 1000, (.latency_us.p99 // 0) / 1000,
       (if .delivered > 0 then (.server_cpu_s // 0) * 1e6 / .delivered else 0 end),
       (.broker.cpu_s_per_million_deliveries // "-"), (.broker.messages_per_s // "-")] | @tsv' "$1"
}
median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "-"; else print a[int((NR + 1) / 2)]}'; }
echo "$clients SSE clients, $rate msg/s, one topic, ${DURATION:-20s} window, median of $rounds" \
     "($(date -u +%FT%TZ), $(nproc) cores)"
echo
echo "| setup | delivered/expected | p50 ms | p99 ms | server CPU-s per 1M | broker CPU-s per 1M | broker msg/s |"
echo "|---|---|---:|---:|---:|---:|---:|"
for s in "${setups[@]}"; do
    rows=$(for r in $(seq 1 "$rounds"); do [ -s "$out/$s-$r.json" ] && row "$out/$s-$r.json"; done || true)
    [ -n "$rows" ] || { echo "| ${label[$s]} | failed | | | | | |"; continue; }
    col() { echo "$rows" | cut -f"$1" | median; }
    del=$(echo "$rows" | awk -F'\t' '{d+=$1; e+=$2} END {print d "/" e}')
    printf '| %s | %s | %.1f | %.1f | %.2f | %s | %s |\n' "${label[$s]}" "$del" \
        "$(col 3)" "$(col 4)" "$(col 5)" "$(col 6 | awk '{print ($1 == "-") ? "-" : sprintf("%.2f", $1)}')" \
        "$(col 7 | awk '{print ($1 == "-") ? "-" : sprintf("%.0f", $1)}')"
done
echo
echo "runs: $out"
