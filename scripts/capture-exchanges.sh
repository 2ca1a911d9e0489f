#!/usr/bin/env bash
# Captures one real request/response exchange per technique from a live `pushbench serve`, byte
# for byte, and prints them as the Markdown of docs/PROTOCOL.md's last section ("Exchanges, byte
# for byte"). With --write it replaces that section in docs/PROTOCOL.md.
#
# usage: scripts/capture-exchanges.sh [--write]
# Needs python3 (standard library only). The server runs with `--heartbeat 1s --retention 4` so a
# heartbeat and a gap show up within a second or two; the clients are raw sockets.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build -q -p loadgen --bin pushbench
bin="${CARGO_TARGET_DIR:-target}/debug/pushbench"
log=$(mktemp)
out=$(mktemp)
"$bin" serve --listen 127.0.0.1:0 --heartbeat 1s --retention 4 >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -f "$log" "$out"' EXIT
addr=""
for _ in $(seq 1 100); do
  addr=$(sed -n '1s/^listening on http:\/\/\([^ ]*\).*/\1/p' "$log")
  [ -n "$addr" ] && break
  sleep 0.1
done
[ -n "$addr" ] || { echo "the server did not start:" >&2; cat "$log" >&2; exit 2; }

timeout 60 python3 - "$addr" >"$out" <<'PY'
import socket, sys, time

HOST, PORT = sys.argv[1].rsplit(":", 1)
ADDR = (HOST, int(PORT))
HOSTHDR = sys.argv[1]


def connect():
    s = socket.create_connection(ADDR, timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def reads(s, seconds, until=None):
    """Everything the server sends within `seconds` (or until `until(data)`), as (t, bytes) reads."""
    got, start, data = [], time.monotonic(), b""
    while True:
        left = start + seconds - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            b = s.recv(65536)
        except socket.timeout:
            break
        if not b:
            break
        got.append((time.monotonic() - start, b))
        data += b
        if until and until(data):
            break
    return got


def http_done(data):
    """True once `data` holds one complete answer with a Content-Length."""
    if b"\r\n\r\n" not in data:
        return False
    head, body = data.split(b"\r\n\r\n", 1)
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            return len(body) >= int(v)
    return False


def text(b):
    """Bytes as readable text: CR and LF shown as \\r and \\n, each line break after its marker."""
    out = []
    for ch in b.decode("utf-8", "backslashreplace"):
        if ch == "\r":
            out.append("\\r")
        elif ch == "\n":
            out.append("\\n\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append("\\x%02x" % ord(ch))
        else:
            out.append(ch)
    s = "".join(out)
    return s if s.endswith("\n") else s + "\n"


def prefixed(prefix, s):
    return "".join(prefix + line + "\n" for line in s.splitlines())


def show(sent, got, gaps=True):
    """One exchange: what the client sent (`>`), what the server sent (`<`), pauses marked."""
    out = [prefixed("> ", text(sent))]
    last = 0.0
    for t, b in got:
        if gaps and t - last > 0.25:
            out.append("   [%.1f s later]\n" % (t - last))
        last = t
        out.append(prefixed("< ", text(b)))
    return "".join(out)


def request(method, path, body=b"", headers=()):
    h = ["%s %s HTTP/1.1" % (method, path), "Host: " + HOSTHDR]
    h += list(headers)
    if body or method == "POST":
        h += ["Content-Type: text/plain; charset=utf-8", "Content-Length: %d" % len(body)]
    return ("\r\n".join(h) + "\r\n\r\n").encode() + body


def exchange(method, path, body=b"", headers=(), seconds=3, until=http_done, sock=None):
    s = sock or connect()
    req = request(method, path, body, headers)
    s.sendall(req)
    got = reads(s, seconds, until)
    if sock is None:
        s.close()
    return req, got


def publish(topic, data, event=None):
    path = "/publish/%s%s" % (topic, "?event=" + event if event else "")
    return exchange("POST", path, data.encode())


blocks = []


def block(title, intro, body):
    blocks.append("### %s\n\n%s\n\n```text\n%s```\n" % (title, intro, body))


# --- publish ----------------------------------------------------------------------------------
req, got = publish("demo", "hello", event="tick")
block("Publish", "`POST /publish/demo?event=tick` with a 5-byte body; the answer is the "
      "assigned sequence number.", show(req, got))
publish("demo", "line one\nline two")

# --- short poll -------------------------------------------------------------------------------
req, got = exchange("GET", "/poll/demo?since=0")
block("Short poll", "`GET /poll/demo?since=0`: both retained messages at once (the second "
      "payload holds a line break, escaped inside the JSON string).", show(req, got))

# --- long poll: held, then answered; then a timeout on the same connection --------------------
s = connect()
req = request("GET", "/long-poll/demo?since=2")
s.sendall(req)
time.sleep(0.5)
publish("demo", "third")
got = reads(s, 3, http_done)
body = show(req, got)
req2 = request("GET", "/long-poll/demo?since=3&timeout=1000")
s.sendall(req2)
got2 = reads(s, 3, http_done)
s.close()
block("Long poll", "`GET /long-poll/demo?since=2` is held until message 3 is published half a "
      "second later; the client re-issues at once with `since=3` on the same connection and, "
      "with nothing new, gets the empty answer when its `timeout=1000` passes.",
      body + "\n" + show(req2, [(t + 0.0, b) for t, b in got2]))

# --- HTTP streaming ---------------------------------------------------------------------------
s = connect()
req = request("GET", "/stream/demo?since=2")
s.sendall(req)
got = reads(s, 0.4)
publish("demo", "fourth")
got += [(t + 0.4, b) for t, b in reads(s, 2.4)]
s.close()
block("HTTP streaming", "`GET /stream/demo?since=2`: message 3 is replayed, message 4 is written "
      "as it is published, then a heartbeat (an empty line) comes on the first 1 s heartbeat "
      "tick with nothing else to send. Chunk sizes are hexadecimal, as sent; the client closed the connection after "
      "that.", show(req, got))

# --- SSE: resume with Last-Event-ID, multi-line data, heartbeat -------------------------------
s = connect()
req = request("GET", "/sse/demo", headers=["Accept: text/event-stream", "Last-Event-ID: 1"])
s.sendall(req)
got = reads(s, 2.4)
s.close()
block("Server-Sent Events: resume and heartbeat", "`GET /sse/demo` with `Last-Event-ID: 1` "
      "(what a browser's EventSource sends when it reconnects): the `retry:` hint, messages 2 to 4 "
      "replayed (message 2's two lines become two `data:` lines), then a heartbeat comment on a "
      "1 s tick with nothing else to send.",
      show(req, got))

# --- SSE: a gap -------------------------------------------------------------------------------
for i in range(1, 7):
    publish("gappy", "m%d" % i)
s = connect()
req = request("GET", "/sse/gappy?since=1", headers=["Accept: text/event-stream"])
s.sendall(req)
got = reads(s, 0.5)
s.close()
block("Server-Sent Events: a gap", "Topic `gappy` got 6 messages but the server keeps only 4 "
      "(`--retention 4`); a client resuming after 1 is told what it missed before the replay.",
      show(req, got))

# --- WebSocket --------------------------------------------------------------------------------
def hexdump(b):
    return " ".join("%02x" % x for x in b)


def frames(data):
    """Splits server frames (unmasked) into (bytes, description)."""
    out = []
    names = {0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}
    while len(data) >= 2:
        b0, b1 = data[0], data[1]
        n, i = b1 & 0x7F, 2
        if n == 126:
            n, i = int.from_bytes(data[2:4], "big"), 4
        elif n == 127:
            n, i = int.from_bytes(data[2:10], "big"), 10
        masked = b1 & 0x80
        if masked:
            i += 4
        if len(data) < i + n:
            break
        payload = data[i:i + n]
        desc = "%s%s, %d byte payload" % ("FIN " if b0 & 0x80 else "", names.get(b0 & 0x0F, "?"), n)
        if b0 & 0x0F == 1:
            desc += ": " + payload.decode()
        elif b0 & 0x0F == 8 and n >= 2:
            desc += ": code %d" % int.from_bytes(payload[:2], "big")
        out.append((data[:i + n], desc))
        data = data[i + n:]
    return out


s = connect()
req = request("GET", "/ws/demo?since=3", headers=[
    "Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="])
s.sendall(req)
got = reads(s, 2.4)
raw = b"".join(b for _, b in got)
head, _, rest = raw.partition(b"\r\n\r\n")
lines = [prefixed("> ", text(req)), prefixed("< ", text(head + b"\r\n\r\n")),
         "\nthen frames, in hex (server frames are unmasked):\n"]
for fb, desc in frames(rest):
    lines.append("< %s\n     (%s)\n" % (hexdump(fb), desc))
# The client closes: a masked close frame with code 1000 (mask key 01 02 03 04).
mask = bytes([1, 2, 3, 4])
payload = (1000).to_bytes(2, "big")
close = bytes([0x88, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
s.sendall(close)
lines.append("> %s\n     (FIN close, masked with key 01 02 03 04, code 1000)\n" % hexdump(close))
back = b"".join(b for _, b in reads(s, 1.0))
for fb, desc in frames(back):
    lines.append("< %s\n     (%s)\n" % (hexdump(fb), desc))
s.close()
block("WebSocket", "The upgrade handshake for `GET /ws/demo?since=3`, then message 4 replayed as a "
      "text frame, a ping on a 1 s heartbeat tick, and the closing handshake started by "
      "the client.", "".join(lines))

print("\n".join(blocks), end="")
PY

{
  echo "## Exchanges, byte for byte"
  echo
  echo "Captured from a real \`pushbench serve --heartbeat 1s --retention 4\` by"
  echo "\`scripts/capture-exchanges.sh\` (rerun it with \`--write\` to refresh this section). Lines"
  echo "starting \`> \` are what the client sent, \`< \` what the server sent; \`\\r\` and \`\\n\` stand for"
  echo "the CR and LF bytes (the line break after each marker is only for reading), and \`[1.0 s"
  echo "later]\` marks a pause between two reads. Everything else is exactly the bytes on the wire."
  echo
  cat "$out"
} >"$out.md"

if [ "${1:-}" = "--write" ]; then
  doc=docs/PROTOCOL.md
  line=$(grep -n '^## Exchanges, byte for byte' "$doc" | cut -d: -f1)
  [ -n "$line" ] || { echo "no '## Exchanges, byte for byte' section in $doc" >&2; exit 2; }
  { head -n $((line - 1)) "$doc"; cat "$out.md"; } >"$doc.new" && mv "$doc.new" "$doc"
  echo "rewrote the last section of $doc" >&2
else
  cat "$out.md"
fi
rm -f "$out.md"
