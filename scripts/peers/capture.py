"""Captures real exchanges with one peer, byte for byte, as Markdown (standard library only).

    python3 capture.py PEER BASE_URL PUBLISH_URL [CONTROL_URL]

`scripts/peers.sh capture` runs it for every peer started with a 1 s heartbeat and a retention
of 4 messages, so heartbeats and gaps show up at once. Notation as in docs/PROTOCOL.md: `> ` what
the client sent, `< ` what the server sent, `\\r` `\\n` for CR and LF, `[1.0 s later]` for a
pause; a long run of one character is shortened to `x{65490 more}`. WebSocket frames in hex.
"""

import json
import re
import sys
import threading

import wire

BLOCKS = []


def text(b):
    s = b.decode("utf-8", "backslashreplace")
    s = re.sub(r"(.)\1{39,}", lambda m: m.group(1) * 8 + "{%d more}" % (len(m.group(0)) - 8), s)
    out = []
    for ch in s:
        out.append({"\r": "\\r", "\n": "\\n\n", "\t": "\\t"}.get(ch, ch))
    s = "".join(out)
    return s if s.endswith("\n") else s + "\n"


def prefixed(p, s):
    return "".join(p + line + "\n" for line in s.splitlines())


def show(sent, got):
    out, last = [prefixed("> ", text(sent))], 0.0
    for t, b in got:
        if t - last > 0.25:
            out.append("   [%.1f s later]\n" % (t - last))
        last = t
        out.append(prefixed("< ", text(b)))
    return "".join(out)


def block(title, intro, body):
    BLOCKS.append("### %s\n\n%s\n\n```text\n%s```\n" % (title, intro, body))


class Peer:
    def __init__(self, url, publish_url):
        self.url, self.publish_url = url, publish_url
        self.host = "%s:%d" % wire.addr_of(url)[:2]

    def req(self, method, path, headers=(), body=b"", host=None):
        return wire.request(method, path, host or self.host, headers, body)

    def exchange(self, path, headers=(), seconds=3, until=wire.http_done, then=None, sock=None):
        """Sends a GET; `then` = (delay, callable) runs while reading (e.g. a publish)."""
        s = sock or wire.connect(self.url)
        sent = self.req("GET", path, headers)
        s.sendall(sent)
        if then:
            threading.Timer(then[0], then[1]).start()
        got = wire.reads(s, seconds, until)
        if sock is None:
            s.close()
        return sent, got

    def publish(self, topic, data, headers=(), query=""):
        s = wire.connect(self.publish_url)
        host = "%s:%d" % wire.addr_of(self.publish_url)[:2]
        sent = self.req("POST", f"/publish/{topic}{query}", headers, data.encode(), host)
        s.sendall(sent)
        got = wire.reads(s, 3, wire.http_done)
        s.close()
        return sent, got


def ws_lines(sock, sent, seconds, then=None, close=True):
    if then:
        threading.Timer(then[0], then[1]).start()
    got = wire.joined(wire.reads(sock, seconds))
    head, _, rest = got.partition(b"\r\n\r\n")
    lines = [prefixed("> ", text(sent))]
    if head:
        lines += [prefixed("< ", text(head + b"\r\n\r\n")), "\nthen frames, in hex:\n"]
    lines += frame_lines(rest, "<")
    if close:
        frame = wire.ws_client_frame(8, (1000).to_bytes(2, "big"))
        sock.sendall(frame)
        lines.append("> %s\n     (FIN close, masked with key 01 02 03 04, code 1000)\n"
                     % frame.hex(" "))
        lines += frame_lines(wire.joined(wire.reads(sock, 1.0)), "<")
    return "".join(lines)


NAMES = {0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}


def frame_lines(data, arrow):
    frames, rest = wire.ws_frames(data)
    out = []
    for opcode, fin, payload, raw in frames:
        desc = "%s%s, %d byte payload" % ("FIN " if fin else "", NAMES.get(opcode, "?"),
                                          len(payload))
        if opcode in (0, 1) and payload:
            desc += ": " + text(payload).replace("\n", "").strip()
        elif opcode == 8 and len(payload) >= 2:
            desc += ": code %d %s" % (int.from_bytes(payload[:2], "big"),
                                      payload[2:].decode("utf-8", "replace"))
        hexed = raw[:16].hex(" ") + (" ..." if len(raw) > 16 else "")
        out.append("%s %s\n     (%s)\n" % (arrow, hexed, desc))
    if rest:
        out.append("%s (%d more bytes: an incomplete frame)\n" % (arrow, len(rest)))
    return out


def ws_open(peer, path, extra=()):
    s = wire.connect(peer.url)
    sent = wire.ws_handshake(path, peer.host, extra)
    s.sendall(sent)
    return s, sent


def publish_many(peer, topic, items):
    for data in items:
        peer.publish(topic, data)


# --- nginx + nchan --------------------------------------------------------------------------------

def nchan(peer):
    sent, got = peer.publish("demo", "hello")
    block("Publish (nchan)", "`POST /publish/demo`, no `Accept`: the answer is plain text; `202` "
          "because no subscriber was connected (`201` when one was).", show(sent, got))
    sent, got = peer.publish("demo", "line one\nline two",
                             ["Accept: application/json", "X-EventSource-Event: tick"])
    block("Publish with Accept: application/json and an event name", "The id of the last "
          "message is `<seconds>:<index within that second>`.", show(sent, got))
    peer.publish("demo", "third")
    s = wire.connect(peer.url)
    body, cur = [], []
    for _ in range(3):
        sent, got = peer.exchange("/long-poll/demo", cur, sock=s)
        h = wire.head_and_body(wire.joined(got))[1]
        cur = ["If-Modified-Since: " + h["last-modified"], "If-None-Match: " + h["etag"]]
        body.append(show(sent, got))
    body = "\n".join(body)
    sent, got = peer.exchange("/long-poll/demo", cur, then=(
        0.5, lambda: peer.publish("demo", "fourth")), sock=s)
    s.close()
    block("Long poll (nchan): oldest, then cursor, then held", "No cursor: the oldest retained "
          "message. The cursor is the answer's `Last-Modified` + `Etag`, sent back as "
          "`If-Modified-Since` + `If-None-Match`; at the newest message the request is held "
          "until the next publish (0.5 s later here). One message per answer.",
          body + "\n" + show(sent, got))
    newest = wire.head_and_body(wire.joined(got))[1]
    sent, got = peer.exchange("/poll/demo", [
        "If-Modified-Since: " + newest["last-modified"], "If-None-Match: " + newest["etag"]])
    block("Interval poll (nchan's short poll)", "`nchan_subscriber intervalpoll` at the newest "
          "cursor: `304` at once, the same cursor headers back.", show(sent, got))
    ids = []
    s = wire.connect(peer.url)
    sent, got = peer.exchange("/sse/demo", ["Accept: text/event-stream"], seconds=1.6,
                              until=None, then=(0.4, lambda: peer.publish("demo", "fifth")),
                              sock=s)
    s.close()
    ids = re.findall(rb"id: (\S+)", wire.joined(got))
    block("EventSource (nchan): replay, live message, ping", "The retained messages (4), "
          "one published 0.4 s later (the oldest is then dropped), then the ping comment "
          "(`nchan_eventsource_ping_interval 1`, comment `hb`). No chunked framing and no "
          "Content-Length: the body ends when the connection closes.", show(sent, got))
    sent, got = peer.exchange("/sse/demo", ["Accept: text/event-stream",
                                            "Last-Event-ID: " + ids[1].decode()],
                              seconds=0.5, until=None)
    block("EventSource resume with Last-Event-ID", "Only what follows the given id.",
          show(sent, got))
    sent, got = peer.exchange("/sse/demo", ["Accept: text/event-stream",
                                            "Last-Event-ID: 1:0"], seconds=0.5, until=None)
    block("EventSource resume from an id older than retention", "Nothing says messages were "
          "lost: the replay starts at the oldest retained message.", show(sent, got))
    sent, got = peer.exchange("/sse/demo", seconds=0.5)
    block("EventSource without Accept: text/event-stream", "The location only allows the "
          "eventsource subscriber type, so nchan refuses.", show(sent, got))
    s = wire.connect(peer.url)
    sent, got = peer.exchange("/stream/demo", ["TE: chunked"], seconds=1.5, until=None,
                              then=(0.4, lambda: peer.publish("demo", "six\nlines")), sock=s)
    s.close()
    block("HTTP chunked stream (nchan)", "`TE: chunked` is required. One chunk per message, the "
          "payload as is, nothing else: the chunk boundary is the only delimiter. No keep-alive.",
          show(sent, got))
    sent, got = peer.exchange("/stream/demo", seconds=0.5)
    block("Chunked stream without TE: chunked", "Refused.", show(sent, got))
    sent, got = peer.exchange("/raw-stream/demo", seconds=0.6, until=None)
    block("http-raw-stream (extra location /raw-stream)", "Each message followed by `\\n`; a "
          "payload's own line breaks are not escaped, so multi-line payloads are ambiguous.",
          show(sent, got))
    s, sent = ws_open(peer, "/ws/demo")
    block("WebSocket (nchan)", "Retained messages replayed, one published 0.4 s later, a ping "
          "(`nchan_websocket_ping_interval 1`), then the client's close.",
          ws_lines(s, sent, 1.6, then=(0.4, lambda: peer.publish("demo", "seventh"))))
    s.close()
    s, sent = ws_open(peer, "/ws/demo?last_event_id=" + ids[-1].decode())
    block("WebSocket resume", "`?last_event_id=ID` (or a `Last-Event-ID` header on the "
          "handshake) starts after that id; the frames carry no id (plain subprotocol).",
          ws_lines(s, sent, 0.5, close=False))
    s.close()
    peer.publish("big", "pb1 0 1 1 " + "x" * 65526)
    s, sent = ws_open(peer, "/ws/big")
    block("WebSocket, 64 KiB message", "One frame, 8-byte length.",
          ws_lines(s, sent, 0.5, close=False))
    s.close()


# --- Pushpin ------------------------------------------------------------------------------------

def pushpin(peer, control_url=None):
    sent, got = peer.publish("demo", "hello")
    block("Publish (Pushpin origin)", "The origin stores the message, publishes it to Pushpin's "
          "control API and answers like pushbench.", show(sent, got))
    peer.publish("demo", "line one\nline two", query="?event=tick")
    if control_url:
        item = {"items": [{"channel": "direct", "id": "1", "prev-id": "0", "formats": {
            "http-stream": {"content": "id: 1\ndata: hi\n\n"},
            "http-response": {"body": "hi\n"}, "ws-message": {"content": "hi"}}}]}
        ctl = wire.connect(control_url)
        host = "%s:%d" % wire.addr_of(control_url)[:2]
        body = json.dumps(item, separators=(",", ":")).encode()
        sent = wire.request("POST", "/publish/", host, body=body).replace(
            b"text/plain; charset=utf-8", b"application/json")
        ctl.sendall(sent)
        got = wire.reads(ctl, 3, wire.http_done)
        ctl.close()
        block("Publish straight to Pushpin's control API", "What the origin sends (one item per "
              "channel; the origin sends two items per message). No id comes back.",
              show(sent, got))
    for i in range(3, 5):
        peer.publish("demo", f"m{i}")
    s = wire.connect(peer.url)
    sent, got = peer.exchange("/long-poll/demo?since=4&timeout=1000", sock=s, then=(
        0.5, lambda: peer.publish("demo", "fifth")))
    sent2, got2 = peer.exchange("/long-poll/demo?since=5&timeout=1000", sock=s, seconds=7)
    s.close()
    block("Long poll (Pushpin)", "Held (the origin answered `Grip-Hold: response`) until the "
          "publish 0.5 s later; then a re-poll at the newest id times out after 5 s although "
          "`timeout=1000` asked for 1 s: Pushpin's minimum `Grip-Timeout` is 5 s. The timeout "
          "answer is the body the origin gave with the hold.",
          show(sent, got) + "\n" + show(sent2, got2))
    s = wire.connect(peer.url)
    sent, got = peer.exchange("/stream/demo?since=3", seconds=1.6, until=None, sock=s, then=(
        0.4, lambda: peer.publish("demo", "six")))
    s.close()
    block("HTTP streaming (Pushpin)", "NDJSON as pushbench's, chunked by Pushpin (which adds "
          "`Connection: Transfer-Encoding`); keep-alive `\\n` after 1 s idle (`Grip-Keep-Alive`).",
          show(sent, got))
    sent, got = peer.exchange("/sse/demo", ["Accept: text/event-stream", "Last-Event-ID: 4"],
                              seconds=1.6, until=None)
    block("SSE (Pushpin), resume and keep-alive", "Replay after `Last-Event-ID: 4` (retention "
          "4), then the keep-alive comment after 1 s idle.", show(sent, got))
    sent, got = peer.exchange("/sse/demo?since=1", ["Accept: text/event-stream"], seconds=0.5,
                              until=None)
    block("SSE (Pushpin), cursor older than retention", "The origin announces the gap as "
          "pushbench does.", show(sent, got))
    s, sent = ws_open(peer, "/ws/demo?since=5")
    block("WebSocket (Pushpin, WebSocket-over-HTTP origin)", "Message 6 replayed (sent by the "
          "origin in its OPEN answer), message 7 published 0.4 s later, Pushpin's keep-alive "
          "ping after 1 s idle, the close handshake.",
          ws_lines(s, sent, 1.6, then=(0.4, lambda: peer.publish("demo", "seventh"))))
    s.close()
    s, sent = ws_open(peer, "/ws/big?since=0")
    frames = ws_lines(s, sent, 1.0, close=False,
                      then=(0.3, lambda: peer.publish("big", "pb1 0 1 1 " + "x" * 65526)))
    s.close()
    block("WebSocket, 64 KiB message (Pushpin)", "Split into 8 KiB fragments (condure's "
          "`client_buffer_size`): a text frame without FIN, continuations, the last with FIN.",
          frames)
    s = wire.connect(peer.url)
    sent, got = peer.exchange("/long-poll/big?since=1&timeout=5000", sock=s, then=(
        0.3, lambda: peer.publish("big", "pb1 0 2 1 " + "x" * 65526)))
    s.close()
    block("Long poll, 64 KiB published answer (Pushpin)", "A large published `http-response` "
          "is sent chunked (8 KiB chunks), not with Content-Length.", show(sent, got))


# --- the framework endpoint ---------------------------------------------------------------------

def framework(peer):
    sent, got = peer.publish("demo", "hello")
    block("Publish (framework)", "", show(sent, got))
    peer.publish("demo", "line one\nline two")
    s = wire.connect(peer.url)
    sent, got = peer.exchange("/sse/demo", ["Accept: text/event-stream", "Last-Event-ID: 1"],
                              seconds=1.0, until=None, sock=s,
                              then=(0.4, lambda: peer.publish("demo", "third")))
    s.close()
    block("SSE (sse-starlette)", "Resume after `Last-Event-ID: 1`, then a live message. CRLF "
          "line endings; the ping (`: ping - <UTC time>`) comes every 15 s.", show(sent, got))
    sent, got = peer.exchange("/stream/demo?since=1", seconds=0.5, until=None)
    block("Stream (StreamingResponse, NDJSON)", "", show(sent, got))
    s, sent = ws_open(peer, "/ws/demo?since=2")
    block("WebSocket (Starlette)", "", ws_lines(
        s, sent, 0.8, then=(0.3, lambda: peer.publish("demo", "fourth"))))
    s.close()


SCENARIOS = {"nchan": nchan, "pushpin": pushpin, "framework": framework}


def main(argv):
    if len(argv) < 4 or argv[1] not in SCENARIOS:
        print(__doc__, file=sys.stderr)
        return 2
    peer = Peer(argv[2], argv[3])
    SCENARIOS[argv[1]](peer, *argv[4:])
    print("\n".join(BLOCKS), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
