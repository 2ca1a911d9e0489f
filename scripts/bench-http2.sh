#!/usr/bin/env bash
# Benchmark: every technique over the four transports (issue 17, docs/HTTP2.md): HTTP/1.1
# cleartext (h1), HTTP/1.1 over TLS (h1+tls), HTTP/2 with prior knowledge (h2c) and HTTP/2
# over TLS (h2+tls), against the embedded server, one run per transport on identical work.
# Prints per technique and transport: delivered/expected, bytes per message (client, both
# ways, TLS records under TLS), requests per message, p50 / p99, server CPU-s per 1M
# deliveries and server memory per client, as a Markdown table; then writes one comparison
# report (its "HTTP/2 and TLS" section says what each change did, from these numbers).
#
#   scripts/bench-http2.sh [CLIENTS] [RATE] [OUT_DIR]     (defaults 1000 10; ~5 min)
#
# Knobs (environment): BENCH_NO_BUILD=1, PUSHBENCH_BIN (another binary), DURATION (default
# 10s), TECHNIQUES (default poll,long-poll,stream,sse,ws), STREAMS (HTTP/2 logical clients per
# connection, default 1), EXTRA (more `pushbench run` flags, e.g. "--poll-interval 500ms").
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
clients="${1:-1000}"
rate="${2:-10}"
out="${3:-$(mktemp -d)}"
if [ "${BENCH_NO_BUILD:-}" != 1 ] && [ -z "${PUSHBENCH_BIN:-}" ]; then
    cargo build --release -p loadgen --manifest-path "$root/Cargo.toml" >&2
fi
bin="${PUSHBENCH_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/pushbench}"
command -v jq > /dev/null || { echo "bench-http2.sh needs jq" >&2; exit 2; }
mkdir -p "$out"
declare -A flags=(
    [h1]=""
    [h1+tls]="--tls"
    [h2c]="--http 2 --streams-per-connection ${STREAMS:-1}"
    [h2+tls]="--http 2 --tls --streams-per-connection ${STREAMS:-1}"
)
dirs=()
for t in h1 h1+tls h2c h2+tls; do
    echo "== $t" >&2
    # shellcheck disable=SC2086 # the flags are words
    "$bin" run --techniques "${TECHNIQUES:-poll,long-poll,stream,sse,ws}" \
        --clients "$clients" --rate "$rate" --duration "${DURATION:-10s}" \
        ${flags[$t]} ${EXTRA:-} --no-report --json --out "$out/$t" > "$out/$t.json" || {
        echo "the $t run failed (exit $?): see $out/$t" >&2
    }
    dirs+=("$out/$t")
done
echo "$clients clients per technique, $rate msg/s, ${DURATION:-10s} window ($(date -u +%FT%TZ), $(nproc) cores)"
echo
echo "| technique | transport | delivered/expected | bytes/msg | requests/msg | p50 ms | p99 ms | server CPU-s per 1M | server KiB per client |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|"
for tech in poll long-poll stream sse ws; do
    for t in h1 h1+tls h2c h2+tls; do
        [ -s "$out/$t.json" ] || continue
        jq -r --arg tech "$tech" --arg t "$t" '.techniques[] | select(.technique == $tech) | . as $r |
          def ms: if . == null then "-" else (. / 100 | round / 10 | tostring) end;
          def per($n): if ($n // 0) == 0 or . == null then "-" else (. / $n) end;
          def r1: if type == "number" then (. * 10 | round / 10 | tostring) else . end;
          def r2: if type == "number" then (. * 100 | round / 100 | tostring) else . end;
          "| \($r.technique) | \($t) | \($r.delivered)/\($r.expected) | \((($r.bytes_up // 0) + ($r.bytes_down // 0)) | per($r.delivered) | r1) | \($r.requests | per($r.delivered) | r2) | \($r.latency_us.p50 | ms) | \($r.latency_us.p99 | ms) | \($r.server_cpu_s | if . == null then null else . * 1000000 end | per($r.delivered) | r1) | \(if $r.server_rss_bytes == null or $r.server_rss_idle_bytes == null then null else (($r.server_rss_bytes - $r.server_rss_idle_bytes) / 1024) end | per($r.clients) | r1) |"' \
          "$out/$t.json"
    done
done
echo
"$bin" report "${dirs[@]}" --out "$out/compare" > /dev/null
echo "runs: ${dirs[*]}"
echo "comparison report: $out/compare/index.html"
