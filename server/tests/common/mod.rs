//! Test-side helpers: an in-process server on 127.0.0.1:0, byte-counting sockets, a hyper
//! client, clients of `/generate` (`generate`), and small wire parsers (SSE, NDJSON, poll
//! answers) written independently from the server's encoders, and real brokers with server
//! instances over them (`brokers`) and what every broker must do (`broker_suite`).
#![allow(dead_code)]

pub mod broker_suite;
pub mod brokers;
pub mod generate;
pub mod h2;
mod parsers;
mod subscribers;

pub use subscribers::*;

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use server::{ServeArgs, Shared, State};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// Generous bound on any single wait in a test (a hang fails instead of blocking CI).
pub const WAIT: Duration = Duration::from_secs(10);

pub struct TestServer {
    pub addr: SocketAddr,
    pub state: State,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<()>,
}

/// Options for tests: everything default except a short heartbeat, and a direct fan-out for
/// every topic (`--direct-fanout-min 1`), so each test of SSE and streams also tests it.
pub fn args() -> ServeArgs {
    ServeArgs {
        listen: "127.0.0.1:0".parse().unwrap(),
        heartbeat: Duration::from_secs(5),
        direct_fanout_min: 1,
        ..ServeArgs::default()
    }
}

pub async fn start(args: ServeArgs) -> TestServer {
    let state = Shared::new(args).expect("valid args");
    let listener = server::server::bind("127.0.0.1:0".parse().unwrap()).expect("bind");
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(server::run(listener, state.clone(), shutdown.clone()));
    TestServer {
        addr,
        state,
        shutdown,
        task,
    }
}

/// Bytes a client counted on its socket.
#[derive(Debug, Default)]
pub struct Counts {
    pub read: AtomicU64,
    pub written: AtomicU64,
}

/// A socket that counts what it reads and writes.
pub struct Counted {
    inner: TcpStream,
    pub counts: Arc<Counts>,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        self.counts.read.fetch_add(n as u64, Relaxed);
        r
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            self.counts.written.fetch_add(n as u64, Relaxed);
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

pub async fn connect(addr: SocketAddr) -> Counted {
    let inner = tokio::time::timeout(WAIT, TcpStream::connect(addr))
        .await
        .expect("connect timeout")
        .expect("connect");
    inner.set_nodelay(true).unwrap();
    Counted {
        inner,
        counts: Arc::new(Counts::default()),
    }
}

/// One HTTP/1.1 client connection (hyper), counting its bytes.
pub struct Client {
    pub send: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    pub counts: Arc<Counts>,
    pub conn: tokio::task::JoinHandle<()>,
    pub addr: SocketAddr,
}

impl Client {
    pub async fn new(addr: SocketAddr) -> Client {
        let s = connect(addr).await;
        let counts = s.counts.clone();
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s))
            .await
            .expect("handshake");
        let conn = tokio::spawn(async move {
            let _ = conn.await;
        });
        Client {
            send,
            counts,
            conn,
            addr,
        }
    }

    pub async fn request(&mut self, req: Request<Full<Bytes>>) -> Response<Incoming> {
        tokio::time::timeout(WAIT, self.send.ready())
            .await
            .expect("connection ready timeout")
            .expect("connection ready");
        tokio::time::timeout(WAIT, self.send.send_request(req))
            .await
            .expect("response timeout")
            .expect("response")
    }

    pub async fn get(&mut self, path: &str) -> Response<Incoming> {
        let req = Request::get(path)
            .header("host", self.addr.to_string())
            .body(Full::new(Bytes::new()))
            .unwrap();
        self.request(req).await
    }

    /// Closes the connection and waits until it is gone.
    pub async fn close(self) {
        drop(self.send);
        let _ = tokio::time::timeout(WAIT, self.conn).await;
    }
}

/// Reads a whole body as text.
pub async fn text(resp: Response<Incoming>) -> String {
    let b = tokio::time::timeout(WAIT, resp.into_body().collect())
        .await
        .expect("body timeout")
        .expect("body")
        .to_bytes();
    String::from_utf8(b.to_vec()).expect("utf-8 body")
}

/// GET on a fresh connection: (status, body).
pub async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut c = Client::new(addr).await;
    let r = c.get(path).await;
    let status = r.status().as_u16();
    let body = text(r).await;
    c.close().await;
    (status, body)
}

pub async fn publish(addr: SocketAddr, topic: &str, data: &str, event: Option<&str>) -> u64 {
    let mut c = Client::new(addr).await;
    let path = match event {
        Some(e) => format!("/publish/{topic}?event={e}"),
        None => format!("/publish/{topic}"),
    };
    let req = Request::post(path)
        .header("host", addr.to_string())
        .body(Full::new(Bytes::from(data.to_string())))
        .unwrap();
    let r = c.request(req).await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = serde_json::from_str(&text(r).await).unwrap();
    c.close().await;
    assert_eq!(v["topic"], topic);
    v["id"].as_u64().expect("id")
}

pub async fn stats(addr: SocketAddr) -> serde_json::Value {
    let (status, body) = get(addr, "/stats").await;
    assert_eq!(status, 200);
    serde_json::from_str(&body).expect("stats json")
}

/// Polls `/stats` until `pred` holds (or panics after WAIT), returning the last document.
pub async fn stats_until(
    addr: SocketAddr,
    what: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        // Right after clients close, a server at --max-connections may still answer 503.
        let (status, body) = get(addr, "/stats").await;
        let s: serde_json::Value = match status {
            200 => serde_json::from_str(&body).expect("stats json"),
            _ => serde_json::Value::Null,
        };
        if pred(&s) {
            return s;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("stats never satisfied: {what}; last: {s}");
        }
        // The poll interval of this bounded wait on `/stats`.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads from `s` until `done(bytes so far)` holds; panics on EOF or after WAIT.
pub async fn read_until(s: &mut TcpStream, done: impl Fn(&str) -> bool) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(WAIT, async {
        while !done(&String::from_utf8_lossy(&out)) {
            let n = tokio::io::AsyncReadExt::read(s, &mut buf)
                .await
                .expect("read");
            assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&out));
            out.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("timed out; got {}", String::from_utf8_lossy(&out)));
    String::from_utf8(out).expect("utf-8")
}
