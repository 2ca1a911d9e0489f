//! Test-side clients of the request-scoped streams (`/generate`, docs/PROTOCOL.md): one per
//! technique, each returning the events received (with the wall time each arrived) and
//! whether the stream ended with its technique's end marker. Written from the protocol, not
//! from the server's encoders.

use std::net::SocketAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::Request;
use tokio_tungstenite::tungstenite::Message;

use super::{BodyReader, Client, WAIT, text, ws_connect};

/// The four techniques of `/generate`.
pub const TECHNIQUES: [&str; 4] = ["sse", "stream", "ws", "long-poll"];

/// Wall-clock µs since the epoch.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// One event as received.
#[derive(Debug, Clone)]
pub struct GenEvent {
    pub seq: u64,
    pub due_us: u64,
    pub content: String,
    pub finish: Option<String>,
    pub id: String,
    /// When it arrived (µs since the epoch).
    pub recv_us: u64,
}

/// A whole stream as received.
#[derive(Debug)]
pub struct Run {
    /// When the request was sent (µs since the epoch).
    pub sent_us: u64,
    pub events: Vec<GenEvent>,
    /// The end marker came (`[DONE]`, `{"done":true}`, close 1000, `done:true`).
    pub ended: bool,
}

/// Parses one event object.
pub fn event(json: &str, recv_us: u64) -> GenEvent {
    let v: serde_json::Value = serde_json::from_str(json).expect("event json");
    assert_eq!(v["object"], "chat.completion.chunk", "{json}");
    assert_eq!(v["model"], "pushbench");
    let choice = &v["choices"][0];
    GenEvent {
        seq: v["pushbench"]["seq"].as_u64().expect("seq"),
        due_us: v["pushbench"]["due_us"].as_u64().expect("due_us"),
        content: choice["delta"]["content"].as_str().expect("content").into(),
        finish: choice["finish_reason"].as_str().map(String::from),
        id: v["id"].as_str().expect("id").into(),
        recv_us,
    }
}

/// A POST of `body` to `path` on `c`.
pub fn post(c: &Client, path: &str, body: &str) -> Request<Full<Bytes>> {
    Request::post(path)
        .header("host", c.addr.to_string())
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

/// Runs one stream of `body` over `technique` to its end.
pub async fn run(addr: SocketAddr, technique: &str, body: &str) -> Run {
    match technique {
        "sse" | "stream" => run_http(addr, technique, body).await,
        "ws" => run_ws(addr, body).await,
        "long-poll" => run_long_poll(addr, body).await,
        other => panic!("no technique {other}"),
    }
}

async fn run_http(addr: SocketAddr, technique: &str, body: &str) -> Run {
    let mut c = Client::new(addr).await;
    let sent_us = now_us();
    let r = c
        .request(post(&c, &format!("/generate/{technique}"), body))
        .await;
    assert_eq!(r.status(), 200, "{technique}");
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    let sse = technique == "sse";
    if sse {
        assert_eq!(ct, "text/event-stream");
        assert_eq!(r.headers()["cache-control"], "no-cache");
        assert_eq!(r.headers()["x-accel-buffering"], "no");
    } else {
        assert_eq!(ct, "application/x-ndjson");
    }
    let mut reader = BodyReader::new(r);
    let (mut buf, mut events, mut ended) = (Vec::<u8>::new(), Vec::new(), false);
    let sep: &[u8] = if sse { b"\n\n" } else { b"\n" };
    while let Some(chunk) = reader.chunk().await.expect("body") {
        let recv_us = now_us();
        buf.extend_from_slice(&chunk);
        while let Some(pos) = buf.windows(sep.len()).position(|w| w == sep) {
            let item = String::from_utf8(buf.drain(..pos + sep.len()).collect()).unwrap();
            let item = item.trim_end_matches('\n');
            assert!(
                !ended,
                "{technique}: something after the end marker: {item}"
            );
            if sse {
                let mut lines = item.lines();
                let first = lines.next().unwrap();
                if first == "data: [DONE]" {
                    ended = true;
                    continue;
                }
                let id = first.strip_prefix("id: ").expect("id line");
                let data = lines
                    .next()
                    .and_then(|l| l.strip_prefix("data: "))
                    .expect("data");
                let e = event(data, recv_us);
                assert_eq!(id, e.seq.to_string());
                events.push(e);
            } else if item == "{\"done\":true}" {
                ended = true;
            } else {
                events.push(event(item, recv_us));
            }
        }
    }
    assert!(buf.is_empty(), "{technique}: a partial item at the end");
    c.close().await;
    Run {
        sent_us,
        events,
        ended,
    }
}

async fn run_ws(addr: SocketAddr, body: &str) -> Run {
    let (mut ws, _) = ws_connect(addr, "/generate/ws").await;
    let sent_us = now_us();
    ws.send(Message::text(body.to_string())).await.unwrap();
    let (mut events, mut ended) = (Vec::new(), false);
    loop {
        let m = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("ws read");
        match m {
            Some(Ok(Message::Text(t))) => events.push(event(t.as_str(), now_us())),
            Some(Ok(Message::Close(Some(f)))) => {
                ended = u16::from(f.code) == 1000 && f.reason == "done";
            }
            Some(Ok(_)) => {}
            None | Some(Err(_)) => break,
        }
    }
    Run {
        sent_us,
        events,
        ended,
    }
}

/// `POST /generate/long-poll`: the answer's status and JSON (Null when not JSON).
pub async fn start_long_poll(c: &mut Client, body: &str) -> (u16, serde_json::Value) {
    let r = c.request(post(c, "/generate/long-poll", body)).await;
    let status = r.status().as_u16();
    let t = text(r).await;
    (status, serde_json::from_str(&t).unwrap_or_default())
}

async fn run_long_poll(addr: SocketAddr, body: &str) -> Run {
    let mut c = Client::new(addr).await;
    let sent_us = now_us();
    let (status, v) = start_long_poll(&mut c, body).await;
    assert_eq!(status, 200, "{v}");
    let poll = v["poll"].as_str().expect("poll").to_string();
    let id = v["stream"].as_str().expect("stream");
    assert_eq!(poll, format!("/generate/long-poll/{id}"));
    let n = v["events"].as_u64().expect("events");
    let (mut events, mut after, mut ended) = (Vec::new(), 0, false);
    for _ in 0..10_000 {
        let r = c.get(&format!("{poll}?after={after}")).await;
        assert_eq!(r.status(), 200);
        let a: serde_json::Value = serde_json::from_str(&text(r).await).unwrap();
        let recv_us = now_us();
        let list = a["events"].as_array().expect("events");
        assert!(list.len() <= 64);
        for e in list {
            events.push(event(&e.to_string(), recv_us));
        }
        after = a["next"].as_u64().expect("next");
        assert_eq!(after, events.len() as u64);
        if a["done"].as_bool().expect("done") {
            ended = after == n;
            break;
        }
    }
    c.close().await;
    Run {
        sent_us,
        events,
        ended,
    }
}
