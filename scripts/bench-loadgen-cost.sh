#!/usr/bin/env bash
# Benchmark: what the load generator costs beside the server it measures. Runs
# `pushbench run` on SSE, stream and WebSocket with 10,000 clients on one topic, REPS times,
# and prints per technique the client's (load generator's) and the server's CPU seconds per
# 1M deliveries side by side, with p99, each the median over the repetitions (min–max).
# On two shared cores every CPU-second of the client is taken from the server, so a heavy
# client inflates the latency it reports (issue: the load generator lighter than the server).
#
#   scripts/bench-loadgen-cost.sh [CLIENTS] [RATE] [OUT_DIR]
#
# Knobs (environment): REPS (3), TECHNIQUES (sse,stream,ws), BENCH_NO_BUILD=1,
# PUSHBENCH_BIN (another build, e.g. an older one, as load generator and server).
# About 1.5 minutes a repetition at the defaults.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
clients="${1:-10000}"
rate="${2:-1}"
out="${3:-$root/results/loadgen-cost-$(date -u +%Y%m%d-%H%M%S)}"
reps="${REPS:-3}"
techniques="${TECHNIQUES:-sse,stream,ws}"
if [ "${BENCH_NO_BUILD:-}" != 1 ] && [ -z "${PUSHBENCH_BIN:-}" ]; then
    cargo build --release -p loadgen --manifest-path "$root/Cargo.toml" >&2
fi
bin="${PUSHBENCH_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/pushbench}"
timeout --signal=INT --kill-after=30 $((reps * 300)) "$bin" run \
    --techniques "$techniques" --clients "$clients" --topics 1 --rate "$rate" \
    --payload-bytes 256 --ramp-up 2500 --warmup 3s --duration 10s --drain 3s --pause 2s \
    --connect-timeout 10s --read-timeout 20s --source-addrs 127.0.0.1-127.0.0.8 \
    --repeat "$reps" --out "$out" --no-report >&2
python3 - "$out" <<'PY'
import json, statistics, sys
from pathlib import Path
out = Path(sys.argv[1])
reps = sorted(out.glob("repetitions/*/summary.json")) or [out / "summary.json"]
rows = {}
for p in reps:
    for t in json.loads(p.read_text())["techniques"]:
        d = t.get("delivered") or 0
        if not d:
            continue
        per = lambda s: None if s is None else s / d * 1e6
        r = rows.setdefault(t["technique"], {"client": [], "server": [], "p99": [], "lost": []})
        r["client"].append(per(t.get("loadgen_cpu_s")))
        r["server"].append(per(t.get("server_cpu_s")))
        r["p99"].append((t.get("latency_us") or {}).get("p99", 0) / 1000)
        r["lost"].append(t.get("lost") or 0)
def cell(v, fmt):
    v = [x for x in v if x is not None]
    if not v:
        return "n/a"
    m = statistics.median(v)
    return f"{fmt.format(m)} ({fmt.format(min(v))}–{fmt.format(max(v))})"
print(f"{len(reps)} repetition(s), {out}")
print("| technique | client CPU-s per 1M | server CPU-s per 1M | client/server | p99 ms | lost |")
print("|---|---:|---:|---:|---:|---:|")
for tech, r in rows.items():
    ratio = [c / s for c, s in zip(r["client"], r["server"]) if c is not None and s]
    print(f"| {tech} | {cell(r['client'], '{:.2f}')} | {cell(r['server'], '{:.2f}')} | "
          f"{cell(ratio, '{:.2f}')} | {cell(r['p99'], '{:.1f}')} | {max(r['lost'])} |")
PY
