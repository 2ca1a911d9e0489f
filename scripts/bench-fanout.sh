#!/usr/bin/env bash
# Benchmark: SSE fan-out of `pushbench serve` against the floor (server/examples/floor_server.rs:
# one blocking write per subscriber, 2 writer threads), each measured by two clients:
# pushbench's load generator (`pushbench run --target URL --server-pid PID`) and an independent
# minimal one-thread client (loadgen/examples/minimal_client.rs). For each rate, server and
# client, REPS repetitions of CLIENTS subscribers on one topic, 256 B payloads, a 3 s warm-up
# and a 10 s window, each on a freshly started server. Prints a markdown table: the server's and
# the client's CPU seconds per 1M deliveries, p99 and lost, each the median over the
# repetitions (min–max), and pushbench/floor of the server's CPU per 1M (issue 14, items 1, 3).
#
#   scripts/bench-fanout.sh [OUT_DIR]
#
# Knobs (environment): CLIENTS (10000), RATES ("1 10 100"), REPS (3), CLIENT (loadgen,
# minimal or both: both), SERVERS ("floor pushbench"; an entry NAME=PATH adds another
# pushbench binary, as server and load generator, e.g. before=/tmp/old/pushbench; the
# repetitions alternate the servers), BENCH_NO_BUILD=1 (use what is built), PUSHBENCH_BIN (the
# `pushbench` measured and used as load generator; default the one built here),
# CARGO_TARGET_DIR. About 25 s a run: 12 runs a rate at the defaults.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/results/fanout-$(date -u +%Y%m%d-%H%M%S)}"
clients="${CLIENTS:-10000}"
rates="${RATES:-1 10 100}"
reps="${REPS:-3}"
case "${CLIENT:-both}" in
    both) client_kinds="loadgen minimal" ;;
    loadgen | minimal) client_kinds="$CLIENT" ;;
    *) echo "CLIENT must be loadgen, minimal or both" >&2; exit 2 ;;
esac
if [ "${BENCH_NO_BUILD:-}" != 1 ]; then
    cargo build --release -p loadgen -p server --examples --bins \
        --manifest-path "$root/Cargo.toml" >&2
fi
bin_dir="${CARGO_TARGET_DIR:-$root/target}/release"
pushbench="${PUSHBENCH_BIN:-$bin_dir/pushbench}"
floor="$bin_dir/examples/floor_server"
minimal="$bin_dir/examples/minimal_client"
for b in "$pushbench" "$floor" "$minimal"; do
    [ -x "$b" ] || { echo "missing $b (build it, or unset BENCH_NO_BUILD)" >&2; exit 1; }
done
ulimit -n 20000
mkdir -p "$out"
results="$out/results.jsonl"
: > "$results"

server_pid=""
stop_server() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        # pushbench serve ends its streams and exits within a few seconds; then force it.
        for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
    fi
}
trap stop_server EXIT

# The pushbench binary of a SERVERS entry: NAME=PATH, or the one built.
bin_of() {
    case "$1" in
        *=*) echo "${1#*=}" ;;
        *) echo "$pushbench" ;;
    esac
}

# Starts server $1 (floor, pushbench or NAME=PATH) fresh; sets server_pid and url.
start_server() {
    local log="$2"
    : > "$log" # before the server's own redirection, which races the reads below
    case "$1" in
        floor) "$floor" --port 0 > "$log" 2>&1 & ;;
        *) "$(bin_of "$1")" serve --listen 127.0.0.1:0 > "$log" 2>&1 & ;;
    esac
    server_pid=$!
    url=""
    for _ in $(seq 100); do
        url=$(sed -n 's/^listening on //p' "$log" | head -1 || true)
        [ -n "$url" ] && break
        sleep 0.1
    done
    [ -n "$url" ] || { echo "$1 did not start: $(cat "$log")" >&2; exit 1; }
}

# Runs client $1 against the server; appends its figures to results.jsonl.
run_client() {
    local kind="$1" server="$2" rate="$3" rep="$4" cell="$5"
    case "$kind" in
        loadgen)
            # The load generator of the server's own build (the floor: the one built).
            timeout --signal=INT --kill-after=30 180 "$(bin_of "$server")" run --target "$url" \
                --server-pid "$server_pid" --techniques sse --clients "$clients" --topics 1 \
                --rate "$rate" --payload-bytes 256 --ramp-up 2500 --warmup 3s --duration 10s \
                --drain 3s --connect-timeout 10s --read-timeout 20s \
                --source-addrs 127.0.0.1-127.0.0.8 --no-report --json --out "$cell" \
                > "$cell.json" 2> "$cell.err" || echo "loadgen run failed: $cell.err" >&2
            ;;
        minimal)
            timeout --kill-after=10 180 "$minimal" --url "$url" --server-pid "$server_pid" \
                --clients "$clients" --rate "$rate" --payload-bytes 256 --warmup 3s \
                --duration 10s --drain 3s --source-addrs 8 \
                > "$cell.json" 2> "$cell.err" || echo "minimal client failed: $cell.err" >&2
            ;;
    esac
    python3 - "$kind" "$server" "$rate" "$rep" "$cell.json" >> "$results" <<'PY'
import json, sys
kind, server, rate, rep, path = sys.argv[1:]
row = {"client": kind, "server": server.split("=")[0], "rate": float(rate), "rep": int(rep)}
try:
    d = json.loads(open(path).read())
except (OSError, ValueError):
    d = None
if d is None:
    row["failed"] = True
elif kind == "loadgen":
    t = d["techniques"][0]
    n = t.get("delivered") or 0
    per = lambda s: None if s is None or not n else s / n * 1e6
    row.update(delivered=n, lost=t.get("lost") or 0,
               server_per_1m=per(t.get("server_cpu_s")),
               client_per_1m=per(t.get("loadgen_cpu_s")),
               p99_ms=(t.get("latency_us") or {}).get("p99", 0) / 1000)
else:
    row.update(delivered=d["delivered"], lost=d["lost"],
               server_per_1m=d["server_cpu_s_per_1m"], client_per_1m=d["client_cpu_s_per_1m"],
               p99_ms=d["p99_ms"])
print(json.dumps(row))
PY
}

for rate in $rates; do
    for rep in $(seq "$reps"); do
        for server in ${SERVERS:-floor pushbench}; do
            for kind in $client_kinds; do
                cell="$out/${server%%=*}-$rate-$kind-$rep"
                echo "rate $rate, repetition $rep/$reps: $server measured by $kind" >&2
                start_server "$server" "$cell.server.log"
                run_client "$kind" "$server" "$rate" "$rep" "$cell"
                stop_server
            done
        done
    done
done

python3 - "$results" "$clients" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
cells = {}
for r in rows:
    cells.setdefault((r["rate"], r["client"], r["server"]), []).append(r)
def vals(rs, k):
    return [r[k] for r in rs if r.get(k) is not None]
def cell(v, fmt):
    if not v:
        return "n/a"
    return f"{fmt.format(statistics.median(v))} ({fmt.format(min(v))}–{fmt.format(max(v))})"
print(f"{sys.argv[2]} SSE subscribers, 256 B, 10 s window; {sys.argv[1]}")
print("| server | rate | client | server CPU-s per 1M | client CPU-s per 1M | p99 ms | lost "
      "| server CPU pushbench/floor |")
print("|---|---:|---|---:|---:|---:|---:|---:|")
for (rate, client, server), rs in sorted(cells.items(), key=lambda kv: (kv[0][0], kv[0][1],
                                                                         kv[0][2] != "floor")):
    ratio = "—"
    if server != "floor":
        floor = vals(cells.get((rate, client, "floor"), []), "server_per_1m")
        ours = vals(rs, "server_per_1m")
        if floor and ours and statistics.median(floor) > 0:
            ratio = f"{statistics.median(ours) / statistics.median(floor):.2f}"
    failed = sum(1 for r in rs if r.get("failed"))
    note = f" ({failed} failed)" if failed else ""
    print(f"| {server}{note} | {rate:g} | {client} | {cell(vals(rs, 'server_per_1m'), '{:.2f}')} "
          f"| {cell(vals(rs, 'client_per_1m'), '{:.2f}')} | {cell(vals(rs, 'p99_ms'), '{:.1f}')} "
          f"| {cell(vals(rs, 'lost'), '{:.0f}')} | {ratio} |")
PY
