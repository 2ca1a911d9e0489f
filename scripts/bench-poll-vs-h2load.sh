#!/usr/bin/env bash
# Benchmark: short-poll throughput of pushbench's HTTP/2 poll clients (`--http 2`,
# `--poll-interval 0`: a closed loop) against h2load (nghttp2) on the same /poll endpoint of the
# same server over h2c with prior knowledge, with the same number of connections and one
# stream at a time on each. The HTTP/2 twin of bench-poll-vs-wrk.sh; docs/HTTP2.md.
#
#   scripts/bench-poll-vs-h2load.sh [CONNECTIONS] [SECONDS]     (defaults 50 and 10; ~30 s)
#
# Needs h2load (Debian: apt-get install nghttp2-client) and jq. Knobs: BENCH_NO_BUILD=1,
# PUSHBENCH_BIN (another binary), TLS=1 (both over h2 with TLS, certificate not checked).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
conns="${1:-50}"
secs="${2:-10}"
command -v h2load >/dev/null || { echo "h2load not found (apt-get install nghttp2-client)" >&2; exit 1; }
command -v jq >/dev/null || { echo "bench-poll-vs-h2load.sh needs jq" >&2; exit 1; }
if [ "${BENCH_NO_BUILD:-}" != 1 ] && [ -z "${PUSHBENCH_BIN:-}" ]; then
    cargo build --release -p loadgen --manifest-path "$root/Cargo.toml" >&2
fi
bin="${PUSHBENCH_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/pushbench}"
tmp="$(mktemp -d)"
serve_tls=()
run_tls=()
if [ "${TLS:-}" = 1 ]; then
    serve_tls=(--tls)
    run_tls=(--insecure)
fi
"$bin" serve --listen 127.0.0.1:0 "${serve_tls[@]}" > "$tmp/serve.out" 2>"$tmp/serve.err" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do grep -q listening "$tmp/serve.out" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$tmp/serve.out" | head -1)
[ -n "$url" ] || { echo "server did not start: $(cat "$tmp/serve.err")" >&2; exit 1; }
# One message so the answers carry a payload like a real poll; cursor at it (empty answers).
curl -sk -X POST --data "pb1 0 1 0 hello" "$url/publish/bench" >/dev/null

"$bin" run --target "$url" --techniques poll --poll-interval 0 --clients "$conns" \
    --http 2 "${run_tls[@]}" --warmup 1s --duration "${secs}s" --drain 1s --no-report --json \
    --out "$tmp/run" > "$tmp/run.json"
ours=$(jq '.techniques[0].requests / .techniques[0].duration_s' "$tmp/run.json")
ours_cpu=$(jq '.techniques[0].loadgen_cpu_s' "$tmp/run.json")

threads=$(( conns < 2 ? conns : 2 ))
h2load -t"$threads" -c"$conns" -m1 -D"$secs" "$url/poll/bench?since=1" > "$tmp/h2load.txt"
theirs=$(sed -n 's/^finished in [^,]*, *\([0-9.]*\) req\/s.*/\1/p' "$tmp/h2load.txt")
[ -n "$theirs" ] || { echo "could not read h2load's rate:" >&2; cat "$tmp/h2load.txt" >&2; exit 1; }
grep -E "^(requests|status codes|traffic):" "$tmp/h2load.txt" | sed 's/^/h2load /'
echo "pushbench h2 poll clients: $ours requests/s (load generator CPU ${ours_cpu}s over ${secs}s)"
echo "h2load:                    $theirs requests/s"
echo "ratio: $(echo "$ours $theirs" | awk '{printf "%.2f", $1/$2}')x h2load"
