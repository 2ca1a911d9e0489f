//! The cluster tests' subscribers, one per technique ([`Sub`]), and the long-poll loop:
//! written from docs/PROTOCOL.md (SSE and NDJSON read from hyper's decoded body, WebSocket
//! through tokio-tungstenite), not from the server's code.

use std::net::SocketAddr;

use futures_util::StreamExt;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::Value;
use tokio::net::TcpStream;

use super::{Conn, WAIT, body_text};

/// A received message: (id, data).
pub type Msg = (u64, String);

/// Reads body chunks of a streaming response.
pub struct Reader {
    body: Incoming,
    buf: String,
    /// The connection, kept as long as the body is read.
    _conn: Conn,
}

impl Reader {
    /// The next complete piece ending with `sep` (None at a clean end, Err when the
    /// response was cut).
    pub async fn piece(&mut self, sep: &str) -> Result<Option<String>, String> {
        loop {
            if let Some(i) = self.buf.find(sep) {
                let p = self.buf[..i].to_string();
                self.buf.drain(..i + sep.len());
                return Ok(Some(p));
            }
            let f = tokio::time::timeout(WAIT, self.body.frame())
                .await
                .expect("body read timeout");
            match f {
                None => return Ok(None),
                Some(Err(e)) => return Err(format!("body error: {e}")),
                Some(Ok(frame)) => {
                    if let Ok(d) = frame.into_data() {
                        self.buf.push_str(std::str::from_utf8(&d).unwrap());
                    }
                }
            }
        }
    }
}

pub enum Sub {
    Sse(Reader),
    Stream(Reader),
    Ws(Box<tokio_tungstenite::WebSocketStream<TcpStream>>),
}

impl Sub {
    pub async fn open(addr: SocketAddr, technique: &str, topic: &str, last_id: Option<u64>) -> Sub {
        if technique == "ws" {
            let s = TcpStream::connect(addr).await.unwrap();
            let url = format!("ws://{addr}/ws/{topic}?since={}", last_id.unwrap_or(0));
            let (ws, resp) = tokio::time::timeout(WAIT, tokio_tungstenite::client_async(url, s))
                .await
                .expect("ws timeout")
                .expect("ws handshake");
            assert_eq!(resp.status(), 101);
            return Sub::Ws(Box::new(ws));
        }
        let mut c = Conn::new(addr).await;
        // SSE resumes as an EventSource does (Last-Event-ID), a stream with `?since=`.
        let id = last_id.map(|i| i.to_string());
        let mut headers = Vec::new();
        let mut path = format!("/{technique}/{topic}");
        if let Some(id) = &id {
            if technique == "sse" {
                headers.push(("last-event-id", id.as_str()));
            } else {
                path.push_str(&format!("?since={id}"));
            }
        }
        let r = c.request("GET", &path, &headers, "").await;
        assert_eq!(r.status(), 200);
        let reader = Reader {
            body: r.into_body(),
            buf: String::new(),
            _conn: c,
        };
        match technique {
            "sse" => Sub::Sse(reader),
            _ => Sub::Stream(reader),
        }
    }

    /// The next message (skipping heartbeats and the retry hint); None at a clean end;
    /// panics when the connection is cut.
    pub async fn next(&mut self) -> Option<Msg> {
        self.try_next().await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// The next message; Ok(None) at a clean end, Err when the connection was cut.
    pub async fn try_next(&mut self) -> Result<Option<Msg>, String> {
        match self {
            Sub::Sse(r) => loop {
                let Some(ev) = r.piece("\n\n").await? else {
                    return Ok(None);
                };
                let (mut id, mut data) = (None, Vec::new());
                for line in ev.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = Some(v.parse().unwrap());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data.push(v);
                    }
                }
                if let Some(id) = id {
                    return Ok(Some((id, data.join("\n"))));
                }
            },
            Sub::Stream(r) => loop {
                let Some(line) = r.piece("\n").await? else {
                    return Ok(None);
                };
                if line.is_empty() {
                    continue;
                }
                let v: Value = serde_json::from_str(&line).unwrap();
                return Ok(Some((
                    v["id"].as_u64().unwrap(),
                    v["data"].as_str().unwrap().into(),
                )));
            },
            Sub::Ws(ws) => loop {
                use tokio_tungstenite::tungstenite::Message;
                let m = tokio::time::timeout(WAIT, ws.next())
                    .await
                    .expect("ws read timeout");
                let Some(m) = m else { return Ok(None) };
                match m.map_err(|e| format!("ws error: {e}"))? {
                    Message::Text(t) => {
                        let v: Value = serde_json::from_str(t.as_str()).unwrap();
                        return Ok(Some((
                            v["id"].as_u64().unwrap(),
                            v["data"].as_str().unwrap().into(),
                        )));
                    }
                    Message::Close(_) => return Ok(None),
                    _ => continue,
                }
            },
        }
    }
}

/// Long-polls on one connection until `count` messages after `since` arrived.
pub async fn long_poll(addr: SocketAddr, topic: &str, mut since: u64, count: usize) -> Vec<Msg> {
    let mut c = Conn::new(addr).await;
    let mut got = Vec::new();
    while got.len() < count {
        let r = c
            .request(
                "GET",
                &format!("/long-poll/{topic}?since={since}&timeout=5000"),
                &[],
                "",
            )
            .await;
        assert_eq!(r.status(), 200);
        let v: Value = serde_json::from_str(&body_text(r).await).unwrap();
        for m in v["messages"].as_array().unwrap() {
            got.push((
                m["id"].as_u64().unwrap(),
                m["data"].as_str().unwrap().into(),
            ));
        }
        since = v["next"].as_u64().unwrap();
    }
    got
}

pub fn expected(from: u64, to: u64) -> Vec<Msg> {
    (from..=to).map(|i| (i, format!("m{i}"))).collect()
}

pub fn children(s: &Value) -> Vec<&Value> {
    s["per_process"]
        .as_array()
        .expect("per_process")
        .iter()
        .filter(|p| p["role"] == "child")
        .collect()
}
