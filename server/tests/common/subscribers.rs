//! Test-side subscribers of every technique: message objects, poll answers, NDJSON stream
//! and SSE readers, WebSocket helpers, and loops that collect a number of messages.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use http_body_util::BodyExt;
use hyper::Response;
use hyper::body::Incoming;

use super::parsers::{Lines, SseParser};
use super::{Client, Counted, Counts, WAIT, connect, text};

/// A received message, as any framing carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub id: u64,
    pub event: Option<String>,
    pub data: String,
}

/// Parses a message object `{"id":..,"event":..,"data":..}` (or returns None for a gap).
pub fn msg_from_json(v: &serde_json::Value) -> Option<Msg> {
    Some(Msg {
        id: v.get("id")?.as_u64()?,
        event: v.get("event").and_then(|e| e.as_str()).map(String::from),
        data: v.get("data")?.as_str()?.to_string(),
    })
}

/// Reads frames of a streaming body.
pub struct BodyReader {
    body: Incoming,
}

impl BodyReader {
    pub fn new(resp: Response<Incoming>) -> BodyReader {
        BodyReader {
            body: resp.into_body(),
        }
    }

    /// The next data chunk; None at a clean end; Err on an aborted body.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, String> {
        loop {
            let f = tokio::time::timeout(WAIT, self.body.frame())
                .await
                .map_err(|_| "body read timeout".to_string())?;
            match f {
                None => return Ok(None),
                Some(Err(e)) => return Err(e.to_string()),
                Some(Ok(frame)) => {
                    if let Ok(d) = frame.into_data() {
                        return Ok(Some(d));
                    }
                }
            }
        }
    }
}

/// Parses a poll / long-poll answer: (next, messages, gap first_available).
pub fn poll_answer(body: &str) -> (u64, Vec<Msg>, Option<u64>) {
    let v: serde_json::Value = serde_json::from_str(body).expect("poll json");
    let next = v["next"].as_u64().expect("next");
    let msgs = v["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| msg_from_json(m).expect("message object"))
        .collect();
    let gap = v.get("gap").map(|g| g["first_available"].as_u64().unwrap());
    (next, msgs, gap)
}

/// A stream subscriber: reads NDJSON lines, returns message objects (skipping heartbeats).
pub struct StreamSub {
    pub reader: BodyReader,
    lines: Lines,
    pub heartbeats: usize,
    pub gaps: Vec<u64>,
    pending: std::collections::VecDeque<Msg>,
}

impl StreamSub {
    pub fn new(resp: Response<Incoming>) -> StreamSub {
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
        StreamSub {
            reader: BodyReader::new(resp),
            lines: Lines::default(),
            heartbeats: 0,
            gaps: Vec::new(),
            pending: Default::default(),
        }
    }

    pub async fn next(&mut self) -> Option<Msg> {
        loop {
            if let Some(m) = self.pending.pop_front() {
                return Some(m);
            }
            let chunk = self.reader.chunk().await.expect("stream body")?;
            for line in self.lines.feed(&chunk) {
                if line.is_empty() {
                    self.heartbeats += 1;
                    continue;
                }
                let v: serde_json::Value = serde_json::from_str(&line).expect("ndjson line");
                if let Some(g) = v.get("gap") {
                    self.gaps.push(g["first_available"].as_u64().unwrap());
                    continue;
                }
                self.pending
                    .push_back(msg_from_json(&v).expect("message object"));
            }
        }
    }
}

/// An SSE subscriber.
pub struct SseSub {
    pub reader: BodyReader,
    parser: SseParser,
    pub retry: Option<u64>,
    pub heartbeats: usize,
    pub gaps: Vec<String>,
    pending: std::collections::VecDeque<Msg>,
}

impl SseSub {
    pub fn new(resp: Response<Incoming>) -> SseSub {
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        assert_eq!(resp.headers()["x-accel-buffering"], "no");
        assert_eq!(resp.headers()["cache-control"], "no-store");
        SseSub {
            reader: BodyReader::new(resp),
            parser: SseParser::default(),
            retry: None,
            heartbeats: 0,
            gaps: Vec::new(),
            pending: Default::default(),
        }
    }

    pub async fn next(&mut self) -> Option<Msg> {
        loop {
            if let Some(m) = self.pending.pop_front() {
                return Some(m);
            }
            let chunk = self.reader.chunk().await.expect("sse body")?;
            for ev in self.parser.feed(&chunk) {
                if ev.comment.is_some() {
                    self.heartbeats += 1;
                } else if ev.retry.is_some() && ev.id.is_none() {
                    self.retry = ev.retry;
                } else if ev.event.as_deref() == Some("gap") {
                    self.gaps.push(ev.data);
                } else {
                    self.pending.push_back(Msg {
                        id: ev.id.expect("id").parse().expect("numeric id"),
                        event: ev.event,
                        data: ev.data,
                    });
                }
            }
        }
    }
}

pub type Ws = tokio_tungstenite::WebSocketStream<Counted>;

pub async fn ws_connect(addr: SocketAddr, path: &str) -> (Ws, Arc<Counts>) {
    let s = connect(addr).await;
    let counts = s.counts.clone();
    let url = format!("ws://{addr}{path}");
    let (ws, resp) = tokio::time::timeout(WAIT, tokio_tungstenite::client_async(url, s))
        .await
        .expect("ws handshake timeout")
        .expect("ws handshake");
    assert_eq!(resp.status(), 101);
    (ws, counts)
}

/// Next WebSocket message object (skips pings/pongs, collects gaps into `gaps`).
pub async fn ws_next(ws: &mut Ws, gaps: &mut Vec<u64>) -> Option<Msg> {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let m = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("ws read timeout")?;
        match m.expect("ws frame") {
            Message::Text(t) => {
                let v: serde_json::Value = serde_json::from_str(t.as_str()).expect("json frame");
                if let Some(g) = v.get("gap") {
                    gaps.push(g["first_available"].as_u64().unwrap());
                    continue;
                }
                return Some(msg_from_json(&v).expect("message object"));
            }
            Message::Close(_) => return None,
            _ => continue,
        }
    }
}

/// Long-polls until `count` messages after `since` arrived; returns them and the requests made.
pub async fn long_poll_collect(
    c: &mut Client,
    topic: &str,
    mut since: u64,
    count: usize,
) -> Vec<Msg> {
    let mut got = Vec::new();
    while got.len() < count {
        let r = c
            .get(&format!("/long-poll/{topic}?since={since}&timeout=2000"))
            .await;
        assert_eq!(r.status(), 200);
        let (next, msgs, _) = poll_answer(&text(r).await);
        got.extend(msgs);
        since = next;
    }
    got
}

/// Short-polls (every 10 ms) until `count` messages after `since` arrived.
pub async fn poll_collect(c: &mut Client, topic: &str, mut since: u64, count: usize) -> Vec<Msg> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while got.len() < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "poll never got {count} messages"
        );
        let r = c.get(&format!("/poll/{topic}?since={since}")).await;
        assert_eq!(r.status(), 200);
        let (next, msgs, _) = poll_answer(&text(r).await);
        if msgs.is_empty() {
            // A short poller's interval (the technique itself), bounded by the deadline above.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        got.extend(msgs);
        since = next;
    }
    got
}
