#!/usr/bin/env bash
# Opens the demo page (GET /) in a real headless Chromium against a live `pushbench serve` with its
# internal publisher, and checks that all five techniques (short poll, long poll, HTTP streaming,
# SSE, WebSocket) received messages in the browser. Takes a screenshot.
#
# usage: scripts/browser-check.sh [SCREENSHOT.png]     (default: target/browser-check.png)
# env:   SECONDS_TO_RUN (default 6), PUBLISH_RATE (default 5), CHROMIUM (default /usr/bin/chromium),
#        TLS=1 (serve --tls: the page over https with the server's self-signed certificate
#        accepted; every HTTP panel must show h2+tls and WebSocket http/1.1+tls)
#
# Installs Debian's chromium and the npm package playwright-core (scripts/browser/) if missing.
# Exit status: 0 all five received messages; 1 a technique got nothing or the page logged an
# error; 2 setup failed (build, server start, browser).
set -euo pipefail
cd "$(dirname "$0")/.."

shot=${1:-target/browser-check.png}
run_s=${SECONDS_TO_RUN:-6}
rate=${PUBLISH_RATE:-5}
chromium_bin=${CHROMIUM:-/usr/bin/chromium}
mkdir -p "$(dirname "$shot")"

if [ ! -x "$chromium_bin" ]; then
  echo "installing chromium (Debian package)..." >&2
  apt-get update -q >&2 && apt-get install -y -q chromium >&2
fi
if ! command -v node >/dev/null; then
  echo "installing nodejs and npm (Debian packages)..." >&2
  apt-get update -q >&2 && apt-get install -y -q nodejs npm >&2
fi
if [ ! -d scripts/browser/node_modules/playwright-core ]; then
  (cd scripts/browser && npm ci --no-audit --no-fund >&2)
fi

echo "building pushbench..." >&2
cargo build -q -p loadgen --bin pushbench
target_dir=${CARGO_TARGET_DIR:-target}
bin="$target_dir/debug/pushbench"

log=$(mktemp)
tls=()
[ "${TLS:-}" = 1 ] && tls=(--tls)
"$bin" serve --listen 127.0.0.1:0 --publish-rate "$rate" "${tls[@]}" >"$log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT

url=""
for _ in $(seq 1 100); do
  url=$(sed -n '1s/^listening on \(https\{0,1\}:[^ ]*\).*/\1/p' "$log")
  [ -n "$url" ] && break
  if ! kill -0 "$server" 2>/dev/null; then break; fi
  sleep 0.1
done
if [ -z "$url" ]; then
  echo "the server did not start; its output:" >&2
  cat "$log" >&2
  exit 2
fi
echo "server at $url, publishing $rate msg/s; browsing for ${run_s}s" >&2

status=0
timeout $((run_s + 60)) node scripts/browser/check.mjs "$url/" "$shot" "$run_s" || status=$?
if [ "$status" -eq 124 ]; then
  echo "the browser check timed out" >&2
  exit 2
fi
[ "$status" -eq 0 ] && echo "all five techniques received messages; screenshot: $shot" >&2
exit "$status"
