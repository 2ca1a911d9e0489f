#!/usr/bin/env bash
# One sitting of docs/PERFORMANCE.md: every benchmark of the performance issue, an older build
# ("before") and this one ("after") alternated where the scripts allow, nothing else should run
# meanwhile. About 20 minutes on 2 cores.
#
#   BEFORE=/path/to/old/pushbench scripts/perf-sitting.sh [OUT_DIR]
#
# Builds this tree (release, with the examples) unless BENCH_NO_BUILD=1. Writes each script's
# output into OUT_DIR (default results/sitting-DATE): cost-*.md (load generator and server CPU
# per 1M), idle-*.txt (server memory per idle connection), lgmem-*.txt (load generator memory
# per idle SSE client), fanout-1.md and fanout-100.md (against the floor), 100k.txt.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
out="${1:-$root/results/sitting-$(date -u +%Y%m%d-%H%M%S)}"
before="${BEFORE:-}"
[ -n "$before" ] || { echo "set BEFORE to the older pushbench binary (see the head of $0)" >&2; exit 2; }
[ -x "$before" ] || { echo "BEFORE=$before is not an executable" >&2; exit 2; }
target="${CARGO_TARGET_DIR:-$root/target}"
if [ "${BENCH_NO_BUILD:-}" != 1 ]; then
    cargo build --release -p loadgen -p server --examples --bins >&2 || exit 1
fi
after="$target/release/pushbench"
export BENCH_NO_BUILD=1
mkdir -p "$out"
{ date -u; uptime; } > "$out/started"
for b in before after; do
    bin=$before; [ $b = after ] && bin=$after
    PUSHBENCH_BIN=$bin REPS=3 timeout 1200 scripts/bench-loadgen-cost.sh 10000 1 "$out/cost-$b" \
        > "$out/cost-$b.md" 2> "$out/cost-$b.err"
done
for r in 1 2 3; do for b in before after; do
    bin=$before; [ $b = after ] && bin=$after
    timeout 600 "$target/release/examples/idle_memory" --server "$bin" --connections 5000 \
        --techniques sse,stream,long-poll,ws --settle-s 1 > "$out/idle-$b-$r.txt" 2>&1
    PUSHBENCH_BIN=$bin timeout 300 scripts/bench-idle-sse.sh 5000 > "$out/lgmem-$b-$r.txt" 2>/dev/null
done; done
servers="floor after=$after before=$before"
SERVERS="$servers" RATES=1 CLIENT=both REPS=3 timeout 2400 scripts/bench-fanout.sh "$out/fanout-1" \
    > "$out/fanout-1.md" 2> "$out/fanout-1.err"
SERVERS="$servers" RATES=100 CLIENT=loadgen REPS=3 timeout 1800 scripts/bench-fanout.sh \
    "$out/fanout-100" > "$out/fanout-100.md" 2> "$out/fanout-100.err"
PUSHBENCH_BIN=$after timeout 900 scripts/bench-100k.sh "$out/100k" > "$out/100k.txt" 2>&1
date -u > "$out/finished"
echo "sitting written to $out" >&2
cat "$out"/cost-*.md "$out"/fanout-*.md
grep -h "per idle" "$out"/lgmem-*.txt
grep -h "PASS\|FAIL" "$out/100k.txt"
