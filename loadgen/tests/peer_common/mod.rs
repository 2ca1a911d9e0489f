//! A small in-test server that speaks nchan's wire (as captured by
//! scripts/capture-exchanges.sh), so the `nchan` profile is tested without nginx:
//!
//! - `POST /publish/{t}`: 202 with nchan-like JSON channel info;
//! - `GET /sse/{t}` (needs `Accept: text/event-stream`, else 403): the raw payload in `data:`,
//!   ids `1764850000:N` (not integers), resumed from `Last-Event-ID`;
//! - `GET /stream/{t}` (needs `TE: chunked`, else 403): one chunk per raw payload;
//! - `GET /long-poll/{t}` and `/poll/{t}`: the raw payload as the body, `Etag`/`Last-Modified`
//!   as the cursor (`If-None-Match`); the poll answers 304 when nothing is new, the long poll
//!   holds the request;
//! - `GET /ws/{t}`: one text message per raw payload.
//!
//! No cursor: the oldest retained message first (nchan_subscriber_first_message oldest).
//!
//! For custom profiles, also `GET /env-stream/{t}?since=CURSOR`: NDJSON lines
//! `{"id": "m-N", "data": PAYLOAD}` (string ids), resumed after `since` (`0`: from the oldest);
//! `/env-stream-short/{t}` the same, closed after 3 messages.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::SinkExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

/// Every topic's messages, and a wake-up for the subscribers waiting on new ones.
#[derive(Default)]
struct Store {
    topics: Mutex<HashMap<String, Vec<String>>>,
    news: Notify,
}

impl Store {
    /// Message `i` of `topic` (0-based), if published.
    fn get(&self, topic: &str, i: usize) -> Option<String> {
        self.topics.lock().unwrap().get(topic)?.get(i).cloned()
    }

    /// Waits (at most `limit`) for message `i` of `topic`.
    async fn wait(&self, topic: &str, i: usize, limit: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.news.notified();
            if let Some(m) = self.get(topic, i) {
                return Some(m);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }
}

/// A parsed request head.
struct Request {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// Starts the server on a thread of its own; returns its address.
pub fn start_nchan_like() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let store = Arc::new(Store::default());
            loop {
                let Ok((s, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(serve(s, store.clone()));
            }
        });
    });
    rx.recv().unwrap()
}

async fn read_request(r: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let b = r.read_u8().await.ok()?;
        head.push(b);
    }
    let text = String::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let n: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; n];
    r.read_exact(&mut body).await.ok()?;
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

async fn serve(s: TcpStream, store: Arc<Store>) {
    let mut r = BufReader::new(s);
    while let Some(req) = read_request(&mut r).await {
        let path = req.path.split('?').next().unwrap_or("").to_string();
        let (kind, topic) = path
            .strip_prefix('/')
            .and_then(|p| p.split_once('/'))
            .unwrap_or(("", ""));
        let topic = topic.to_string();
        let keep = match (req.method.as_str(), kind) {
            ("POST", "publish") => publish(&mut r, &store, &topic, req.body).await,
            ("GET", "poll") => poll(&mut r, &store, &topic, &req, false).await,
            ("GET", "long-poll") => poll(&mut r, &store, &topic, &req, true).await,
            ("GET", "sse") => return sse(r, &store, &topic, &req).await,
            ("GET", "stream") => return stream(r, &store, &topic, &req).await,
            ("GET", "ws") => return ws(r, &store, &topic, &req).await,
            ("GET", "env-stream") => return env_stream(r, &store, &topic, &req, usize::MAX).await,
            // Ends the stream after 3 messages: the client must resume from its string id.
            ("GET", "env-stream-short") => return env_stream(r, &store, &topic, &req, 3).await,
            _ => answer(&mut r, "404 Not Found", &[], b"not here\n").await,
        };
        if !keep {
            return;
        }
    }
}

async fn answer(
    r: &mut BufReader<TcpStream>,
    status: &str,
    fields: &[String],
    body: &[u8],
) -> bool {
    let mut out = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for f in fields {
        out.push_str(f);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    r.get_mut().write_all(&bytes).await.is_ok()
}

async fn publish(r: &mut BufReader<TcpStream>, store: &Store, topic: &str, body: Vec<u8>) -> bool {
    let n = {
        let mut topics = store.topics.lock().unwrap();
        let msgs = topics.entry(topic.to_string()).or_default();
        msgs.push(String::from_utf8(body).unwrap_or_default());
        msgs.len()
    };
    store.news.notify_waiters();
    let info = format!(
        "{{\"messages\": {n}, \"requested\": 1, \"subscribers\": 0, \"last_message_id\": \"1764850000:{}\"}}",
        n - 1
    );
    let fields = ["Content-Type: application/json".to_string()];
    answer(r, "202 Accepted", &fields, info.as_bytes()).await
}

const LAST_MODIFIED: &str = "Last-Modified: Thu, 04 Dec 2025 12:26:40 GMT";

async fn poll(
    r: &mut BufReader<TcpStream>,
    store: &Store,
    topic: &str,
    req: &Request,
    hold: bool,
) -> bool {
    // The Etag is the index of the message answered; the next request asks for the one after.
    let next = match req
        .header("if-none-match")
        .and_then(|e| e.parse::<usize>().ok())
    {
        Some(e) => e + 1,
        None => 0,
    };
    let limit = if hold {
        Duration::from_secs(30)
    } else {
        Duration::ZERO
    };
    match store.wait(topic, next, limit).await {
        Some(m) => {
            let fields = [
                LAST_MODIFIED.to_string(),
                format!("Etag: {next}"),
                "Content-Type: text/plain".to_string(),
            ];
            answer(r, "200 OK", &fields, m.as_bytes()).await
        }
        None => {
            let etag = next.checked_sub(1).map(|e| format!("Etag: {e}"));
            let fields: Vec<String> = [Some(LAST_MODIFIED.to_string()), etag]
                .into_iter()
                .flatten()
                .collect();
            let status = if hold {
                "408 Request Timeout"
            } else {
                "304 Not Modified"
            };
            answer(r, status, &fields, b"").await
        }
    }
}

/// Streams messages from `first` on, each written by `frame`, until the client goes.
async fn follow(
    s: &mut TcpStream,
    store: &Store,
    topic: &str,
    first: usize,
    frame: impl Fn(usize, &str) -> Vec<u8>,
) {
    let mut i = first;
    loop {
        let Some(m) = store.wait(topic, i, Duration::from_secs(3600)).await else {
            return;
        };
        if s.write_all(&frame(i, &m)).await.is_err() {
            return;
        }
        i += 1;
    }
}

async fn sse(mut r: BufReader<TcpStream>, store: &Store, topic: &str, req: &Request) {
    if req.header("accept") != Some("text/event-stream") {
        answer(&mut r, "403 Forbidden", &[], b"").await;
        return;
    }
    let first = req
        .header("last-event-id")
        .and_then(|id| id.split_once(':'))
        .and_then(|(_, n)| n.parse::<usize>().ok())
        .map_or(0, |n| n + 1);
    let s = r.get_mut();
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nConnection: close\r\n\r\n: hi\n\n";
    if s.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    follow(s, store, topic, first, |i, m| {
        format!("id: 1764850000:{i}\ndata: {m}\n\n").into_bytes()
    })
    .await;
}

async fn stream(mut r: BufReader<TcpStream>, store: &Store, topic: &str, req: &Request) {
    if req.header("te") != Some("chunked") {
        answer(&mut r, "403 Forbidden", &[], b"").await;
        return;
    }
    let s = r.get_mut();
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n";
    if s.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    follow(s, store, topic, 0, |_, m| {
        let mut c = format!("{:x}\r\n", m.len()).into_bytes();
        c.extend_from_slice(m.as_bytes());
        c.extend_from_slice(b"\r\n");
        c
    })
    .await;
}

async fn ws(mut r: BufReader<TcpStream>, store: &Store, topic: &str, req: &Request) {
    let Some(key) = req.header("sec-websocket-key") else {
        answer(&mut r, "400 Bad Request", &[], b"").await;
        return;
    };
    let head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(key.as_bytes())
    );
    let mut s = r.into_inner();
    if s.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let mut ws = tokio_tungstenite::WebSocketStream::from_raw_socket(s, Role::Server, None).await;
    let mut i = 0;
    loop {
        let Some(m) = store.wait(topic, i, Duration::from_secs(3600)).await else {
            return;
        };
        if ws.send(Message::text(m)).await.is_err() {
            return;
        }
        i += 1;
    }
}

async fn env_stream(
    mut r: BufReader<TcpStream>,
    store: &Store,
    topic: &str,
    req: &Request,
    most: usize,
) {
    let since = req.path.split_once("?since=").map_or("0", |(_, c)| c);
    let first = since
        .strip_prefix("m-")
        .and_then(|n| n.parse::<usize>().ok())
        .map_or(0, |n| n + 1);
    let s = r.get_mut();
    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n\r\n";
    if s.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    for i in first..first.saturating_add(most) {
        let Some(m) = store.wait(topic, i, Duration::from_secs(3600)).await else {
            return;
        };
        let data = serde_json::to_string(&m).unwrap();
        let line = format!("{{\"id\": \"m-{i}\", \"data\": {data}}}\n");
        if s.write_all(line.as_bytes()).await.is_err() {
            return;
        }
    }
}
