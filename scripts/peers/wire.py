"""Raw-socket clients for scripts/peers.sh: the smoke check of each peer (standard library only).

    python3 wire.py smoke PEER BASE_URL PUBLISH_URL TECHNIQUE...

subscribes with each TECHNIQUE the way PEER wants it asked (paths, headers, cursors: see
/work/notes/peers-wire.md) to a fresh topic, publishes three messages to it through PUBLISH_URL
(a short one, one with a line break, one of 64 KiB, each starting with pushbench's
`pb1 0 SEQ US` header) and checks that all three arrive whole. Prints one line per technique and
exits 1 if any technique missed a message. Every read has a deadline; nothing waits forever.
"""

import base64
import json
import os
import socket
import sys
import threading
import time
import urllib.parse
import urllib.request

DEADLINE_S = 5.0


def addr_of(url):
    u = urllib.parse.urlsplit(url)
    return u.hostname, u.port or 80, u.path.rstrip("/")


def connect(url):
    host, port, _ = addr_of(url)
    s = socket.create_connection((host, port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def request(method, path, host, headers=(), body=b""):
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", *headers]
    if body or method == "POST":
        lines += ["Content-Type: text/plain; charset=utf-8", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def reads(s, seconds, until=None):
    """What the server sends within `seconds` (or until `until(data)`), as (t, bytes) reads."""
    got, start, data = [], time.monotonic(), b""
    while True:
        left = start + seconds - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            b = s.recv(1 << 20)
        except (socket.timeout, ConnectionResetError):
            break
        if not b:
            break
        got.append((time.monotonic() - start, b))
        data += b
        if until and until(data):
            break
    return got


def joined(got):
    return b"".join(b for _, b in got)


def head_and_body(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower().decode()] = v.strip().decode()
    return status, headers, body


def http_done(data):
    """True once `data` holds one complete answer with a Content-Length (or none needed)."""
    if b"\r\n\r\n" not in data:
        return False
    status, headers, body = head_and_body(data)
    if "chunked" in headers.get("transfer-encoding", ""):
        return body.endswith(b"0\r\n\r\n")  # good enough for the bodies seen here
    if status in (204, 304) or "content-length" in headers:
        return len(body) >= int(headers.get("content-length", "0"))
    return False


def ws_handshake(path, host, extra=()):
    return request("GET", path, host, [
        "Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Key: " + base64.b64encode(os.urandom(16)).decode(), *extra])


def ws_frames(data):
    """Splits server (unmasked) frames: [(opcode, fin, payload, raw bytes)], rest."""
    out = []
    while len(data) >= 2:
        b0, b1 = data[0], data[1]
        n, i = b1 & 0x7F, 2
        if n == 126:
            n, i = int.from_bytes(data[2:4], "big"), 4
        elif n == 127:
            n, i = int.from_bytes(data[2:10], "big"), 10
        if b1 & 0x80:
            i += 4
        if len(data) < i + n:
            break
        out.append((b0 & 0x0F, bool(b0 & 0x80), data[i:i + n], data[:i + n]))
        data = data[i + n:]
    return out, data


def ws_client_frame(opcode, payload, mask=b"\x01\x02\x03\x04"):
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def publish(publish_url, topic, data, headers=None):
    req = urllib.request.Request(f"{publish_url.rstrip('/')}/publish/{topic}",
                                 data=data.encode(), method="POST",
                                 headers={"Content-Type": "text/plain", **(headers or {})})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, r.read().decode()


def payloads():
    """Three payloads (short, two lines, 64 KiB) and what must arrive of each: its first line,
    whole (every framing here keeps a line intact; the 64 KiB one is a single line)."""
    now = int(time.time() * 1e6)
    head = [f"pb1 0 {n} {now + n} " for n in (1, 2, 3)]
    msgs = [head[0] + "hello", head[1] + "line one\nline two"]
    msgs.append(head[2] + "x" * (65536 - len(head[2])))
    return msgs, [m.split("\n")[0].encode() for m in msgs]


def dechunk(body):
    """The content of a chunked body (as much as has arrived)."""
    out, i = b"", 0
    while True:
        end = body.find(b"\r\n", i)
        if end < 0:
            return out
        size = int(body[i:end].split(b";")[0] or b"0", 16)
        if size == 0:
            return out
        out += body[end + 2:end + 2 + size]
        i = end + 2 + size + 2


# --- how each peer is asked, per technique ------------------------------------------------------

def subscribe_stream(url, path, headers, want, seconds=DEADLINE_S):
    """One long response (SSE, chunked stream): all bytes until `want` markers are seen."""
    host = "%s:%d" % addr_of(url)[:2]
    s = connect(url)
    s.sendall(request("GET", addr_of(url)[2] + path, host, headers))

    def content(d):
        _, h, body = head_and_body(d)
        return dechunk(body) if "chunked" in h.get("transfer-encoding", "") else body

    data = joined(reads(s, seconds, lambda d: all(m in content(d) for m in want)))
    s.close()
    return content(data)


def subscribe_ws(url, path, want, seconds=DEADLINE_S, extra=()):
    host = "%s:%d" % addr_of(url)[:2]
    s = connect(url)
    s.sendall(ws_handshake(addr_of(url)[2] + path, host, extra))

    def messages(d):
        """Complete text/binary messages (fragments joined), one per line."""
        _, _, body = head_and_body(d)
        out, part = [], None
        for opcode, fin, payload, _ in ws_frames(body)[0]:
            if opcode in (1, 2):
                part = payload
            elif opcode == 0 and part is not None:
                part += payload
            else:
                continue
            if fin:
                out.append(part)
                part = None
        return b"\n".join(out)

    data = joined(reads(s, seconds, lambda d: all(m in messages(d) for m in want)))
    s.sendall(ws_client_frame(8, (1000).to_bytes(2, "big")))
    s.close()
    return messages(data) if head_and_body(data)[0] == 101 else data


def polls(url, first_path, next_request, want, limit=50):
    """Poll or long-poll answers, one request after the other on one connection, following
    the cursor `next_request(status, headers, body)` gives (None: stop)."""
    host = "%s:%d" % addr_of(url)[:2]
    s = connect(url)
    path, headers, seen = first_path, [], b""
    for _ in range(limit):
        s.sendall(request("GET", addr_of(url)[2] + path, host, headers))
        status, h, body = head_and_body(joined(reads(s, DEADLINE_S, http_done)))
        if "chunked" in h.get("transfer-encoding", ""):
            body = dechunk(body)  # Pushpin sends a large published long-poll answer chunked
        seen += body
        if all(m in seen for m in want):
            break
        nxt = next_request(status, h, body)
        if nxt is None:
            break
        path, headers = nxt
        if status == 304 or b'"messages":[]' in body:
            time.sleep(0.1)  # a short poll with nothing new: poll again a little later
    s.close()
    return seen


def pushbench_style(technique, url, topic, want):
    """pushbench's own protocol (docs/PROTOCOL.md): also what the Pushpin origin speaks."""
    if technique == "sse":
        return subscribe_stream(url, f"/sse/{topic}", ["Accept: text/event-stream"], want)
    if technique == "stream":
        return subscribe_stream(url, f"/stream/{topic}?since=0", [], want)
    if technique == "ws":
        return subscribe_ws(url, f"/ws/{topic}?since=0", want)
    base = "/poll" if technique == "poll" else "/long-poll"

    def follow(status, headers, body):
        nxt = json.loads(body)["next"]
        return f"{base}/{topic}?since={nxt}&timeout=5000", []
    return polls(url, f"{base}/{topic}?since=0&timeout=5000", follow, want)


def nchan_style(technique, url, topic, want):
    if technique == "sse":
        return subscribe_stream(url, f"/sse/{topic}", ["Accept: text/event-stream"], want)
    if technique == "stream":
        return subscribe_stream(url, f"/stream/{topic}", ["TE: chunked"], want)
    if technique == "ws":
        return subscribe_ws(url, f"/ws/{topic}", want)

    def follow(status, headers, body):
        if status not in (200, 304):
            return None
        return f"/{technique}/{topic}", [
            "If-Modified-Since: " + headers.get("last-modified", ""),
            "If-None-Match: " + headers.get("etag", "")]
    return polls(url, f"/{technique}/{topic}", follow, want)


def framework_style(technique, url, topic, want):
    if technique == "sse":
        return subscribe_stream(url, f"/sse/{topic}", ["Accept: text/event-stream"], want)
    if technique == "stream":
        return subscribe_stream(url, f"/stream/{topic}?since=0", [], want)
    if technique == "ws":
        return subscribe_ws(url, f"/ws/{topic}?since=0", want)
    raise ValueError(f"the framework peer does not offer {technique}")


STYLES = {"pushbench": pushbench_style, "pushpin": pushbench_style, "nchan": nchan_style,
          "framework": framework_style}


def publish_later(publish_url, topic, msgs, answers):
    """Publishes `msgs` 0.3 s from now, in a thread: the subscriber is waiting by then."""
    def run():
        time.sleep(0.3)
        for m in msgs:
            try:
                status, answer = publish(publish_url, topic, m)
            except OSError as e:
                status, answer = 0, str(e)
            answers.append(f"{len(m)} B -> {status} {' '.join(answer.split())[:90]}")
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def smoke(peer, url, publish_url, techniques):
    """Per technique: a fresh topic, a subscriber, then three messages published live."""
    failed = 0
    for technique in techniques:
        topic = "smoke%d" % (time.time_ns() % 10**9)
        msgs, want = payloads()
        answers = []
        publisher = publish_later(publish_url, topic, msgs, answers)
        start = time.monotonic()
        try:
            data = STYLES[peer](technique, url, topic, want)
        except (OSError, ValueError, KeyError) as e:
            data, err = b"", f" ({e})"
        else:
            err = ""
        publisher.join(10)
        if technique == techniques[0]:
            for a in answers:
                print(f"  {peer} publish   {a}")
        got = sum(1 for w in want if w in data)
        ok = got == len(want)
        failed += not ok
        print(f"  {peer} {technique:<9} {'ok  ' if ok else 'FAIL'} {got}/{len(want)} messages, "
              f"{len(data)} bytes, {time.monotonic() - start:.2f} s{err}")
    return failed


def main(argv):
    if len(argv) < 5 or argv[1] != "smoke":
        print(__doc__, file=sys.stderr)
        return 2
    return 1 if smoke(argv[2], argv[3], argv[4], argv[5:]) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
