//! HTTP/2 in cleartext with prior knowledge (h2c) on the same port as HTTP/1.1 (issue 17):
//! every technique over real hyper HTTP/2 clients, per-technique byte counts at the socket,
//! 100 SSE streams on one connection, a stream reset freeing its subscriber, WebSocket refused,
//! GOAWAY on shutdown, and the protocol counters of `/stats` and `/metrics`.

mod common;

use std::time::Duration;

use common::h2::{H2, Via, bytes_agree, every_technique_gets_every_message};
use common::{SseSub, WAIT, args, get, publish, start, stats, text};
use http_body_util::BodyExt;

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
