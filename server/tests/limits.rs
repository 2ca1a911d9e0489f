//! Limits that protect the server: the request-head timeout (a client that connects and says
//! nothing is closed, open streams and held long polls are not), `--max-topics`, and a panic
//! inside one connection's handler that must not take anything else down.

mod common;

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::*;

/// Reads until the server closes the connection (bounded); returns what it sent.
async fn read_until_closed(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut out))
        .await
        .expect("the server never closed the connection")
        .expect("read");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_clients_are_closed_but_streams_and_long_polls_live_on() {
    let mut args = args();
    args.header_read_timeout = Duration::from_millis(300);
    args.heartbeat = Duration::from_millis(200);
    let srv = start(args).await;
    let a = srv.addr;

    // Subscribers and a held long poll that will outlive the head timeout many times over.
    let mut sse = Client::new(a).await;
    let mut sse = SseSub::new(sse_get(&mut sse, "/sse/t").await);
    let mut st = Client::new(a).await;
    let mut st = StreamSub::new(st.get("/stream/t").await);
    let mut lp = Client::new(a).await;
    let held = tokio::spawn(async move {
        let r = lp.get("/long-poll/t?since=0&timeout=5000").await;
        assert_eq!(r.status(), 200);
        poll_answer(&text(r).await)
    });

    // A client that connects and sends nothing, and one that stops mid-head.
    let mut silent = TcpStream::connect(a).await.unwrap();
    let mut partial = TcpStream::connect(a).await.unwrap();
    partial
        .write_all(b"GET /poll/t HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert!(read_until_closed(&mut silent).await.is_empty());
    // Closed without an answer (hyper sends none for a head timeout).
    assert!(read_until_closed(&mut partial).await.is_empty());

    // Held for 1 s (more than 3 head timeouts), the long poll answers with the message.
    // Letting that time pass is the scenario; load only lengthens it. (The heartbeat check
    // below needs one of the ~5 ticks of 200 ms in that second.)
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(publish(a, "t", "late", None).await, 1);
    let (next, msgs, _) = held.await.unwrap();
    assert_eq!((next, msgs.len()), (1, 1));
    let m = sse.next().await.expect("sse message");
    assert_eq!((m.id, m.data.as_str()), (1, "late"));
    let m = st.next().await.expect("stream message");
    assert_eq!((m.id, m.data.as_str()), (1, "late"));
    assert!(sse.heartbeats >= 1 && st.heartbeats >= 1);
    // Closing silent clients is not counted as an error of the server.
    let s = stats(a).await;
    assert_eq!(s["connection_errors"], 0, "{s}");
}

async fn sse_get(c: &mut Client, path: &str) -> hyper::Response<hyper::body::Incoming> {
    let req = Request::get(path)
        .header("host", c.addr.to_string())
        .header("accept", "text/event-stream")
        .body(Full::new(Bytes::new()))
        .unwrap();
    c.request(req).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_beyond_max_topics_are_refused_with_503() {
    let mut args = args();
    args.max_topics = 2;
    let srv = start(args).await;
    let a = srv.addr;
    assert_eq!(publish(a, "a", "x", None).await, 1);
    assert_eq!(publish(a, "b", "x", None).await, 1);
    // A short poll of a topic that does not exist creates nothing: an empty answer, not 503.
    assert_eq!(
        get(a, "/poll/c").await,
        (200, "{\"next\":0,\"messages\":[]}".into())
    );
    for path in ["/long-poll/c?timeout=10", "/stream/c", "/sse/c", "/ws/c"] {
        let mut c = Client::new(a).await;
        let req = Request::get(path)
            .header("host", a.to_string())
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let r = c.request(req).await;
        assert_eq!(r.status(), 503, "{path}");
        assert_eq!(r.headers()["retry-after"], "1");
        let body = text(r).await;
        assert!(body.contains("--max-topics"), "{path}: {body}");
    }
    let mut c = Client::new(a).await;
    let req = Request::post("/publish/c")
        .header("host", a.to_string())
        .body(Full::new(Bytes::from_static(b"x")))
        .unwrap();
    assert_eq!(c.request(req).await.status(), 503);
    // Existing topics still work.
    assert_eq!(publish(a, "a", "y", None).await, 2);
    assert_eq!(stats(a).await["topics"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_takes_down_only_its_connection() {
    // Without the hidden testing flag the route does not exist.
    let plain = start(args()).await;
    assert_eq!(get(plain.addr, "/debug/panic").await.0, 404);

    let mut args = args();
    args.debug_panic_route = true;
    let srv = start(args).await;
    let a = srv.addr;
    let mut sub = Client::new(a).await;
    let mut sub = SseSub::new(sse_get(&mut sub, "/sse/p").await);
    stats_until(a, "subscriber connected", |s| {
        s["techniques"]["sse"]["connections"] == 1
    })
    .await;

    for _ in 0..3 {
        let mut s = TcpStream::connect(a).await.unwrap();
        s.write_all(b"GET /debug/panic HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        // The connection is dropped with no answer.
        assert!(read_until_closed(&mut s).await.is_empty());
    }
    // Everyone else carries on: the subscriber gets the next message, the server answers.
    assert_eq!(publish(a, "p", "still here", None).await, 1);
    let m = sub.next().await.expect("message after the panics");
    assert_eq!(m.data, "still here");
    let s = stats_until(a, "panicked connections released", |s| {
        s["open_connections"] == 2 && s["techniques"]["sse"]["connections"] == 1
    })
    .await;
    let other = s["techniques"]["other"]["requests"].as_u64().unwrap();
    assert!(other >= 3, "the panicked requests were routed: {s}");
    assert!(!srv.task.is_finished());
}
