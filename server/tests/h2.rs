//! HTTP/2 in cleartext with prior knowledge (h2c) on the same port as HTTP/1.1 (issue 17):
//! every technique over real hyper HTTP/2 clients, per-technique byte counts at the socket,
//! 100 SSE streams on one connection, a stream reset freeing its subscriber, WebSocket refused,
//! GOAWAY on shutdown, and the protocol counters of `/stats` and `/metrics`.

mod common;

use std::time::Duration;

use common::h2::{H2, Via, bytes_agree, every_technique_gets_every_message};
use common::{SseSub, WAIT, args, get, publish, start, stats, text};
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo};

#[tokio::test]
async fn every_technique_over_h2c_gets_every_message_in_order() {
    let s = start(args()).await;
    let counts = every_technique_gets_every_message(s.addr, &Via::H2c, "h2c", 25, "h2").await;
    let st = stats(s.addr).await;
    bytes_agree(&st, &counts);
    assert_eq!(st["techniques"]["sse"]["delivered"], 25);
    assert_eq!(st["techniques"]["publish"]["requests"], 25);
    // Five HTTP/2 connections (SSE, stream, publisher, poll, long poll); `/stats` is HTTP/1.1.
    assert_eq!(st["protocols"]["h2"]["total"], 5);
    assert_eq!(st["protocols"]["h1"]["total"], 1);
    assert_eq!(st["protocols"]["h1_tls"]["total"], 0);
    // HTTP/1.1 on the same port is as before.
    assert_eq!(publish(s.addr, "h2c", "after", None).await, 26);
    let (status, body) = get(s.addr, "/poll/h2c?since=25").await;
    assert_eq!(status, 200);
    assert!(body.contains("\"after\""), "{body}");
    let (_, metrics) = get(s.addr, "/metrics").await;
    assert!(
        metrics.contains("pushbench_connections_total{protocol=\"h2\"} 5\n"),
        "{metrics}"
    );
    assert!(metrics.contains("pushbench_tls_handshake_failures_total 0\n"));
    s.shutdown.cancel();
}

#[tokio::test]
async fn a_hundred_sse_streams_share_one_connection() {
    let s = start(args()).await;
    let mut c = H2::h2c(s.addr).await;
    let mut subs = Vec::new();
    for _ in 0..100 {
        subs.push(SseSub::new(c.get("/sse/many").await));
    }
    let st = c.stats().await;
    assert_eq!(st["open_connections"], 1, "{st}");
    assert_eq!(st["protocols"]["h2"]["open"], 1);
    assert_eq!(
        st["techniques"]["sse"]["connections"], 1,
        "the first request's technique"
    );
    assert_eq!(st["techniques"]["sse"]["requests"], 100);
    let r = c.request("POST", "/publish/many", "to all").await;
    assert_eq!(r.status(), 200);
    for sub in &mut subs {
        let m = sub.next().await.expect("message");
        assert_eq!((m.id, m.data.as_str()), (1, "to all"));
    }
    assert_eq!(c.stats().await["techniques"]["sse"]["delivered"], 100);
    s.shutdown.cancel();
}

/// Polls `/stats` over `c` until `check` holds (bounded by WAIT).
async fn until(c: &mut H2, what: &str, check: impl Fn(&serde_json::Value) -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let st = c.stats().await;
        if check(&st) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "never {what}: {st}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_reset_stream_frees_its_subscriber_and_leaves_the_others() {
    let s = start(args()).await;
    let mut c = H2::h2c(s.addr).await;
    // A topic nobody published to lives only as long as its subscribers.
    let lonely = c.get("/sse/lonely").await;
    assert_eq!(lonely.status(), 200);
    let mut other = SseSub::new(c.get("/sse/other").await);
    until(&mut c, "two topics", |st| st["topics"] == 2).await;
    drop(lonely); // the client resets the stream (RST_STREAM CANCEL)
    until(&mut c, "the lonely topic gone", |st| st["topics"] == 1).await;
    let r = c.request("POST", "/publish/other", "still here").await;
    assert_eq!(r.status(), 200);
    assert_eq!(other.next().await.expect("message").data, "still here");
    assert_eq!(c.stats().await["open_connections"], 1);
    s.shutdown.cancel();
}

#[tokio::test]
async fn websocket_over_h2_is_refused_with_a_reason() {
    let s = start(args()).await;
    let mut c = H2::h2c(s.addr).await;
    for path in ["/ws/t", "/generate/ws"] {
        let r = c.get(path).await;
        assert_eq!(r.status(), 505, "{path}");
        let body = text(r).await;
        assert!(body.starts_with("WebSocket needs HTTP/1.1"), "{body}");
        assert_eq!(body.lines().count(), 1, "{body}");
    }
    // The connection still serves.
    assert_eq!(c.get("/poll/t").await.status(), 200);
    s.shutdown.cancel();
}

#[tokio::test]
async fn shutdown_ends_streams_cleanly_and_closes_the_connection() {
    let s = start(args()).await;
    let mut c = H2::h2c(s.addr).await;
    let mut sse = SseSub::new(c.get("/sse/bye").await);
    let stream = c.get("/stream/bye").await.into_body();
    s.shutdown.cancel();
    assert_eq!(sse.next().await, None, "a clean end of the SSE body");
    let rest = tokio::time::timeout(WAIT, stream.collect()).await;
    assert!(matches!(rest, Ok(Ok(_))), "a clean end of the stream body");
    tokio::time::timeout(WAIT, c.conn)
        .await
        .expect("the connection closes after GOAWAY")
        .unwrap();
    tokio::time::timeout(WAIT, s.task)
        .await
        .expect("the server stops")
        .unwrap();
}

/// A client socket that stops reading when told to (and never wakes its reader again).
struct Pausable {
    inner: common::Counted,
    paused: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl tokio::io::AsyncRead for Pausable {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.paused.load(std::sync::atomic::Ordering::Relaxed) {
            return std::task::Poll::Pending;
        }
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Pausable {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[tokio::test]
async fn a_connection_that_stops_reading_is_cut_as_a_slow_reader() {
    let s = start(server::ServeArgs {
        heartbeat: Duration::from_millis(100),
        ..args()
    })
    .await;
    let paused = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let io = Pausable {
        inner: common::connect(s.addr).await,
        paused: paused.clone(),
    };
    let (mut send, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .initial_stream_window_size(65_535)
        .initial_connection_window_size(65_535)
        .handshake(TokioIo::new(io))
        .await
        .unwrap();
    let conn = tokio::spawn(conn);
    let req = http::Request::get(format!("http://{}/sse/stuck", s.addr))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    // A healthy idle subscription (heartbeats) is left alone.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        stats(s.addr).await["techniques"]["sse"]["slow_disconnects"],
        0
    );
    paused.store(true, std::sync::atomic::Ordering::Relaxed);
    let big = "x".repeat(20_000);
    for _ in 0..10 {
        publish(s.addr, "stuck", &big, None).await;
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let st = stats(s.addr).await;
        if st["techniques"]["sse"]["slow_disconnects"] == 1 {
            assert_eq!(st["protocols"]["h2"]["open"], 0, "{st}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never cut: {st}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    conn.abort();
    drop(resp);
    s.shutdown.cancel();
}

#[tokio::test]
async fn request_scoped_streams_run_over_h2c() {
    let s = start(args()).await;
    let mut c = H2::h2c(s.addr).await;
    let body = r#"{"events":5,"event_bytes":10,"interval_ms":5}"#;
    let r = c.request("POST", "/generate/sse", body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let sse = text(r).await;
    let ids: Vec<&str> = sse
        .split("\n\n")
        .filter_map(|item| item.lines().next()?.strip_prefix("id: "))
        .collect();
    assert_eq!(ids, ["0", "1", "2", "3", "4"], "{sse}");
    assert!(sse.ends_with("data: [DONE]\n\n"), "{sse}");
    let r = c.request("POST", "/generate/stream", body).await;
    assert_eq!(r.status(), 200);
    let nd = text(r).await;
    let lines: Vec<&str> = nd.lines().collect();
    assert_eq!(lines.len(), 6, "{nd}");
    assert_eq!(lines[5], "{\"done\":true}");
    let st = c.stats().await;
    assert_eq!(st["techniques"]["sse"]["generate"]["streams_completed"], 1);
    assert_eq!(
        st["techniques"]["stream"]["generate"]["streams_completed"],
        1
    );
    s.shutdown.cancel();
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_the_header_read_timeout_a_busy_one_is_not() {
    let s = start(server::ServeArgs {
        header_read_timeout: Duration::from_millis(300),
        ..args()
    })
    .await;
    let mut idle = H2::h2c(s.addr).await;
    assert_eq!(idle.get("/poll/t").await.status(), 200);
    let mut busy = H2::h2c(s.addr).await;
    let mut sse = SseSub::new(busy.get("/sse/t").await);
    tokio::time::timeout(WAIT, idle.conn)
        .await
        .expect("the idle connection is closed")
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let r = busy.request("POST", "/publish/t", "later").await;
    assert_eq!(r.status(), 200);
    assert_eq!(sse.next().await.expect("message").data, "later");
    s.shutdown.cancel();
}

#[tokio::test]
async fn the_preface_counts_only_as_a_connection_s_first_bytes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = start(args()).await;
    let mut c = common::connect(s.addr).await;
    c.write_all(
        b"GET /long-poll/p?timeout=1 HTTP/1.1\r\nHost: x\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    )
    .await
    .unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(WAIT, c.read_to_end(&mut got)).await;
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    // Then hyper's HTTP/1.1 refuses the preface and closes: no HTTP/2 settings frame.
    assert!(got.ends_with("{\"next\":0,\"messages\":[]}"), "{got}");
    let st = stats(s.addr).await;
    assert_eq!(st["protocols"]["h2"]["total"], 0, "{st}");
    s.shutdown.cancel();
}
