"""The origin server behind Pushpin for scripts/peers.sh.

Pushpin holds the client connections; this app tells it, per request, what to answer and which
channel to hold the connection on (GRIP), and it publishes each message to Pushpin's HTTP
control API. It keeps the newest --retention messages of each topic so clients can resume, and
it frames every technique as docs/PROTOCOL.md does, so pushbench's own clients can read it:

  POST /publish/{topic}[?event=NAME]   body = payload; answers {"topic":T,"id":N} once Pushpin
                                       accepted the message (items on two channels, below)
  GET  /sse/{topic}[?since=N]          Grip-Hold: stream, text/event-stream, Last-Event-ID resume
  GET  /stream/{topic}?since=N         Grip-Hold: stream, application/x-ndjson
  GET  /long-poll/{topic}?since=N[&timeout=MS]   at once if newer messages exist, else
                                       Grip-Hold: response (Pushpin clamps the timeout to >= 5 s)
  GET  /poll/{topic}?since=N           answered here at once (Pushpin only relays it)
  POST /ws/{topic}?since=N             WebSocket-over-HTTP (route option over_http): OPEN ->
                                       subscribe control message + replay as TEXT events

Channels: `{topic}` carries the SSE event (http-stream), the long-poll answer (http-response)
and the WebSocket text (ws-message); `{topic}!stream` carries the NDJSON line (http-stream).
`!` is not a topic character, so the two never clash. Each item has id=N and prev-id=N-1 and
each hold names prev-id=<newest seq>: Pushpin then notices any message a connection missed
(between two long polls, or a publish racing a subscribe) and asks this origin again
(long poll: the request is retried; streams: the Grip-Link next URL, with a Grip-Last header).

Run: python grip_origin.py --port P --control http://127.0.0.1:C [--retention 1024]
(uvicorn inside; one worker, the state is in-process.)
"""

import argparse
import asyncio
import collections
import contextlib
import json
import math
import re

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

TOPIC = re.compile(r"[A-Za-z0-9_.-]{1,64}\Z")
EVENT = TOPIC
LINE_BREAK = re.compile(r"\r\n|\r|\n")
JSON_SEP = (",", ":")


class Topic:
    """One topic: its next sequence number, its retained messages, its publish lock."""

    def __init__(self, retention):
        self.last = 0
        self.messages = collections.deque(maxlen=retention)  # (seq, data, event)
        self.lock = asyncio.Lock()

    def after(self, since):
        """Messages newer than `since`, and the gap object when some were dropped."""
        gap = None
        first = self.messages[0][0] if self.messages else self.last + 1
        if since + 1 < first and since < self.last:
            gap = {"since": since, "first_available": first}
        return [m for m in self.messages if m[0] > since], gap


class Origin:
    def __init__(self, control, retention, heartbeat):
        self.control = control
        self.retention = retention
        self.heartbeat = heartbeat
        self.topics = {}
        self.client = None

    def topic(self, name):
        t = self.topics.get(name)
        if t is None:
            t = self.topics[name] = Topic(self.retention)
        return t


def message_object(seq, data, event):
    obj = {"id": seq}
    if event:
        obj["event"] = event
    obj["data"] = data
    return obj


def sse_event(seq, data, event):
    out = f"id: {seq}\n"
    if event:
        out += f"event: {event}\n"
    for line in LINE_BREAK.split(data):
        out += f"data: {line}\n"
    return out + "\n"


def sse_gap(gap):
    return f"event: gap\ndata: {json.dumps(gap, separators=JSON_SEP)}\n\n"


def ndjson(obj):
    return json.dumps(obj, separators=JSON_SEP) + "\n"


def poll_answer(since, messages, gap, last):
    next_ = messages[-1][0] if messages else min(since, last)
    obj = {"next": next_, "messages": [message_object(*m) for m in messages]}
    if gap:
        obj["gap"] = gap
    return json.dumps(obj, separators=JSON_SEP)


def bad(what):
    return PlainTextResponse(f"bad {what}\n", status_code=400)


def cursor(request, header=None):
    """The client's cursor: a header (SSE's Last-Event-ID) first, then ?since=N, else 0."""
    raw = request.headers.get(header) if header else None
    if raw is None:
        raw = request.query_params.get("since", "0")
    return int(raw) if raw.isdigit() else None


def grip_last(request):
    """`Grip-Last: {channel}; last-id=N` (Pushpin's recovery request) as N, else None."""
    value = request.headers.get("grip-last")
    if not value:
        return None
    m = re.search(r"last-id=(\d+)", value)
    return int(m.group(1)) if m else None


async def publish(request):
    origin = request.app.state.origin
    name = request.path_params["topic"]
    event = request.query_params.get("event")
    if not TOPIC.match(name):
        return bad("topic")
    if event is not None and not EVENT.match(event):
        return bad("event name")
    try:
        data = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        return bad("body: not UTF-8")
    t = origin.topic(name)
    async with t.lock:  # one publish at a time per topic keeps Pushpin's items in order
        seq = t.last + 1
        obj = json.dumps(message_object(seq, data, event), separators=JSON_SEP)
        body = f'{{"next":{seq},"messages":[{obj}]}}'
        ids = {"id": str(seq), "prev-id": str(seq - 1)}
        items = [
            dict(channel=name, **ids, formats={
                "http-stream": {"content": sse_event(seq, data, event)},
                "http-response": {"code": 200, "headers": {
                    "Content-Type": "application/json", "Cache-Control": "no-store"},
                    "body": body},
                "ws-message": {"content": obj},
            }),
            dict(channel=name + "!stream", **ids, formats={
                "http-stream": {"content": obj + "\n"}}),
        ]
        try:
            r = await origin.client.post("/publish/", json={"items": items})
        except httpx.HTTPError as e:
            return PlainTextResponse(f"pushpin publish failed: {e}\n", status_code=502)
        if r.status_code != 200:
            return PlainTextResponse(
                f"pushpin publish answered {r.status_code}: {r.text}", status_code=502)
        t.last = seq
        t.messages.append((seq, data, event))
    return JSONResponse({"topic": name, "id": seq})


def hold_headers(channel, last, path, content_type, keep_alive, heartbeat):
    return {
        "Content-Type": content_type,
        "Cache-Control": "no-store",
        "X-Accel-Buffering": "no",
        "Grip-Hold": "stream",
        "Grip-Channel": f"{channel}; prev-id={last}",
        "Grip-Link": f"<{path}>; rel=next",
        "Grip-Keep-Alive": f"{keep_alive}; format=cstring; timeout={heartbeat}",
    }


async def stream_like(request, sse):
    origin = request.app.state.origin
    name = request.path_params["topic"]
    if not TOPIC.match(name):
        return bad("topic")
    recovering = grip_last(request)
    since = recovering if recovering is not None else cursor(
        request, "last-event-id" if sse else None)
    if since is None:
        return bad("cursor")
    t = origin.topic(name)
    messages, gap = t.after(since)
    if sse:
        body = "" if recovering is not None else "retry: 2000\n\n"
        body += (sse_gap(gap) if gap else "") + "".join(sse_event(*m) for m in messages)
        headers = hold_headers(name, t.last, f"/sse/{name}", "text/event-stream",
                               r": hb\n\n", origin.heartbeat)
    else:
        body = (ndjson({"gap": gap}) if gap else "") + "".join(
            ndjson(message_object(*m)) for m in messages)
        headers = hold_headers(name + "!stream", t.last, f"/stream/{name}",
                               "application/x-ndjson", r"\n", origin.heartbeat)
    return Response(body, headers=headers)


async def sse(request):
    return await stream_like(request, True)


async def stream(request):
    return await stream_like(request, False)


async def long_poll(request):
    origin = request.app.state.origin
    name = request.path_params["topic"]
    if not TOPIC.match(name):
        return bad("topic")
    since = cursor(request)
    if since is None:
        return bad("cursor")
    raw_timeout = request.query_params.get("timeout", "30000")
    if not raw_timeout.isdigit():
        return bad("timeout")
    t = origin.topic(name)
    messages, gap = t.after(since)
    body = poll_answer(since, messages, gap, t.last)
    headers = {"Cache-Control": "no-store"}
    if not messages and not gap:
        timeout_s = math.ceil(min(max(int(raw_timeout), 1), 300000) / 1000)
        headers.update({
            "Grip-Hold": "response",
            "Grip-Channel": f"{name}; prev-id={t.last}",
            "Grip-Timeout": str(timeout_s),
        })
    return Response(body, media_type="application/json", headers=headers)


async def poll(request):
    origin = request.app.state.origin
    name = request.path_params["topic"]
    if not TOPIC.match(name):
        return bad("topic")
    since = cursor(request)
    if since is None:
        return bad("cursor")
    t = origin.topic(name)
    messages, gap = t.after(since)
    return Response(poll_answer(since, messages, gap, t.last), media_type="application/json",
                    headers={"Cache-Control": "no-store"})


def ws_event(kind, content=None):
    """One WebSocket-over-HTTP event; `content` is text (sent as UTF-8) or raw bytes."""
    if content is None:
        return f"{kind}\r\n".encode()
    raw = content.encode() if isinstance(content, str) else content
    return f"{kind} {len(raw):x}\r\n".encode() + raw + b"\r\n"


def parse_ws_events(body):
    """WebSocket-over-HTTP events `TYPE[ HEXLEN]\\r\\n[CONTENT\\r\\n]` as (type, bytes)."""
    events, i = [], 0
    while i < len(body):
        end = body.index(b"\r\n", i)
        head = body[i:end].decode()
        i = end + 2
        kind, _, size = head.partition(" ")
        content = b""
        if size:
            n = int(size, 16)
            content = body[i:i + n]
            i += n + 2
        events.append((kind, content))
    return events


async def ws(request):
    """WebSocket-over-HTTP: Pushpin turns each WebSocket's events into POSTs here."""
    origin = request.app.state.origin
    name = request.path_params["topic"]
    if request.headers.get("content-type") != "application/websocket-events":
        return PlainTextResponse("WebSocket only (route option over_http)\n", status_code=400)
    if not TOPIC.match(name):
        return bad("topic")
    out = []
    headers = {"Content-Type": "application/websocket-events"}
    for kind, content in parse_ws_events(await request.body()):
        if kind == "OPEN":
            since = cursor(request)
            if since is None:
                return bad("cursor")
            t = origin.topic(name)
            messages, gap = t.after(since)
            headers["Sec-WebSocket-Extensions"] = "grip"
            out.append(ws_event("OPEN"))
            sub = {"type": "subscribe", "channel": name}
            ka = {"type": "keep-alive", "message-type": "ping", "content": "",
                  "timeout": origin.heartbeat}
            out.append(ws_event("TEXT", "c:" + json.dumps(sub, separators=JSON_SEP)))
            out.append(ws_event("TEXT", "c:" + json.dumps(ka, separators=JSON_SEP)))
            # With the grip extension on, a message for the client must carry the "m:" prefix
            # (Pushpin drops unprefixed ones); published ws-message items need none.
            if gap:
                out.append(ws_event("TEXT", "m:" + json.dumps({"gap": gap}, separators=JSON_SEP)))
            for m in messages:
                out.append(ws_event("TEXT", "m:" + json.dumps(message_object(*m),
                                                              separators=JSON_SEP)))
        elif kind == "CLOSE":
            out.append(ws_event("CLOSE", content) if content else ws_event("CLOSE"))
        # TEXT, BINARY, PING, PONG from the client: nothing to say (Pushpin answers pings).
    return Response(b"".join(out), headers=headers)


def app(origin):
    @contextlib.asynccontextmanager
    async def lifespan(_app):
        async with httpx.AsyncClient(base_url=origin.control, timeout=10.0) as client:
            origin.client = client
            yield

    a = Starlette(lifespan=lifespan, routes=[
        Route("/publish/{topic}", publish, methods=["POST"]),
        Route("/sse/{topic}", sse, methods=["GET"]),
        Route("/stream/{topic}", stream, methods=["GET"]),
        Route("/long-poll/{topic}", long_poll, methods=["GET"]),
        Route("/poll/{topic}", poll, methods=["GET"]),
        Route("/ws/{topic}", ws, methods=["POST"]),
    ])
    a.state.origin = origin
    return a


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--control", required=True, help="Pushpin's control API base URL")
    p.add_argument("--retention", type=int, default=1024)
    p.add_argument("--heartbeat", type=int, default=15, help="keep-alive interval, seconds")
    args = p.parse_args()
    origin = Origin(args.control, args.retention, args.heartbeat)
    uvicorn.run(app(origin), host="127.0.0.1", port=args.port, log_level="warning",
                access_log=False, workers=1, timeout_graceful_shutdown=2)


if __name__ == "__main__":
    main()
