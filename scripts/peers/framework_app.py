"""An SSE endpoint written the way application developers write one (the third peer of
scripts/peers.sh, after nginx + nchan and Pushpin).

Starlette + sse-starlette under uvicorn, one worker, publishing through an in-process broadcast:
each subscriber owns an asyncio.Queue, a publish appends to the topic's small history and puts
the message on every subscriber's queue. Library defaults are kept on purpose (sse-starlette's
CRLF line endings and its 15 s `: ping - <time>` comment, uvicorn's 20 s WebSocket pings,
unbounded queues): this peer shows what a framework endpoint costs as it usually ships.

  POST /publish/{topic}   body = payload; answers {"topic":T,"id":N}
  GET  /sse/{topic}       text/event-stream, `id: N` per message; resumes after Last-Event-ID
                          (or ?since=N) from the newest --retention messages, else from the oldest
  GET  /stream/{topic}    NDJSON lines {"id":N,"data":...} (StreamingResponse), ?since=N
  WS   /ws/{topic}        one text message {"id":N,"data":...} per message, ?since=N

Run: python framework_app.py --port P [--retention 1024]
"""

import argparse
import asyncio
import collections
import json

import uvicorn
from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect


class Broadcast:
    """Topics in memory: a sequence number, the newest messages, the subscribers' queues."""

    def __init__(self, retention):
        self.retention = retention
        self.last = collections.defaultdict(int)
        self.history = collections.defaultdict(lambda: collections.deque(maxlen=retention))
        self.subscribers = collections.defaultdict(set)

    def publish(self, topic, data):
        self.last[topic] += 1
        msg = (self.last[topic], data)
        self.history[topic].append(msg)
        for queue in self.subscribers[topic]:
            queue.put_nowait(msg)
        return msg[0]

    async def subscribe(self, topic, since):
        """Retained messages after `since`, then live ones, as (id, data)."""
        queue = asyncio.Queue()
        self.subscribers[topic].add(queue)
        try:
            for msg in list(self.history[topic]):
                if msg[0] > since:
                    since = msg[0]
                    yield msg
            while True:
                msg = await queue.get()
                if msg[0] > since:
                    since = msg[0]
                    yield msg
        finally:
            self.subscribers[topic].discard(queue)


def since_of(value):
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return 0


async def publish(request: Request):
    data = (await request.body()).decode("utf-8", errors="replace")
    topic = request.path_params["topic"]
    seq = request.app.state.broadcast.publish(topic, data)
    return JSONResponse({"topic": topic, "id": seq})


async def sse(request: Request):
    since = since_of(request.headers.get("last-event-id", request.query_params.get("since")))
    messages = request.app.state.broadcast.subscribe(request.path_params["topic"], since)

    async def events():
        async for seq, data in messages:
            yield {"id": str(seq), "data": data}

    return EventSourceResponse(events())


async def stream(request: Request):
    since = since_of(request.query_params.get("since"))
    messages = request.app.state.broadcast.subscribe(request.path_params["topic"], since)

    async def lines():
        async for seq, data in messages:
            yield json.dumps({"id": seq, "data": data}) + "\n"

    return StreamingResponse(lines(), media_type="application/x-ndjson")


async def ws(websocket: WebSocket):
    await websocket.accept()
    since = since_of(websocket.query_params.get("since"))
    messages = websocket.app.state.broadcast.subscribe(websocket.path_params["topic"], since)
    try:
        async for seq, data in messages:
            await websocket.send_text(json.dumps({"id": seq, "data": data}))
    except WebSocketDisconnect:
        pass
    finally:
        await messages.aclose()


async def not_found(request: Request, exc):
    return PlainTextResponse("not found\n", status_code=404)


def app(retention):
    a = Starlette(
        routes=[
            Route("/publish/{topic}", publish, methods=["POST"]),
            Route("/sse/{topic}", sse),
            Route("/stream/{topic}", stream),
            WebSocketRoute("/ws/{topic}", ws),
        ],
        exception_handlers={404: not_found},
    )
    a.state.broadcast = Broadcast(retention)
    return a


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--retention", type=int, default=1024)
    args = p.parse_args()
    uvicorn.run(app(args.retention), host="127.0.0.1", port=args.port, workers=1,
                log_level="warning", access_log=False, backlog=4096,
                timeout_graceful_shutdown=2)  # open streams would hold SIGTERM forever


if __name__ == "__main__":
    main()
