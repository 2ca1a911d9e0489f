#!/usr/bin/env bash
# Benchmark: short-poll throughput of pushbench's poll clients with --poll-interval 0
# (a closed loop, as wrk runs) against wrk on the same /poll endpoint of the same server, with
# the same number of connections. Target: 0.8x wrk or better.
#
#   scripts/bench-poll-vs-wrk.sh [CONNECTIONS] [SECONDS]     (defaults 50 and 10; ~30 s)
#
# Needs wrk (Debian: apt-get install wrk) and jq.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
conns="${1:-50}"
secs="${2:-10}"
command -v wrk >/dev/null || { echo "wrk not found (apt-get install wrk)" >&2; exit 1; }
cargo build --release -p loadgen --manifest-path "$root/Cargo.toml" >&2
bin="${CARGO_TARGET_DIR:-$root/target}/release/pushbench"
tmp="$(mktemp -d)"
"$bin" serve --listen 127.0.0.1:0 > "$tmp/serve.out" 2>"$tmp/serve.err" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do grep -q listening "$tmp/serve.out" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$tmp/serve.out" | head -1)
[ -n "$url" ] || { echo "server did not start" >&2; exit 1; }
# One message so the answers carry a payload like a real poll; cursor at it (empty answers).
curl -s -X POST --data "pb1 0 1 0 hello" "$url/publish/bench" >/dev/null

"$bin" run --target "$url" --techniques poll --poll-interval 0 --clients "$conns" \
    --warmup 1s --duration "${secs}s" --drain 1s --no-report --json \
    --out "$tmp/run" > "$tmp/run.json"
ours=$(jq '.techniques[0].requests / .techniques[0].duration_s' "$tmp/run.json")
ours_cpu=$(jq '.techniques[0].loadgen_cpu_s' "$tmp/run.json")

threads=$(( conns < 2 ? conns : 2 ))
wrk -t"$threads" -c"$conns" -d"${secs}s" "$url/poll/bench?since=1" > "$tmp/wrk.txt"
theirs=$(sed -n 's/^Requests\/sec: *//p' "$tmp/wrk.txt")
echo "pushbench poll clients: $ours requests/s (load generator CPU ${ours_cpu}s over ${secs}s)"
echo "wrk:                    $theirs requests/s"
echo "ratio: $(echo "$ours $theirs" | awk '{printf "%.2f", $1/$2}')x wrk (target >= 0.8)"
