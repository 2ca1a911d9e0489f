//! The server's per-technique byte counters equal what each client counted on its own socket,
//! and requests are attributed to the right technique.

mod common;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::Request;

use common::*;

fn u(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap()
}

async fn settle(a: std::net::SocketAddr, t: &str, counts: &Counts) {
    use std::sync::atomic::Ordering::Relaxed;
    let (w, r) = (counts.written.load(Relaxed), counts.read.load(Relaxed));
    assert!(w > 0 && r > 0, "{t}: the client moved no bytes");
    let s = stats_until(a, &format!("{t} bytes: client wrote {w}, read {r}"), |s| {
        let x = &s["techniques"][t];
        u(&x["bytes_read"]) == w && u(&x["bytes_written"]) == r && u(&x["connections"]) == 0
    })
    .await;
    assert_eq!(u(&s["techniques"][t]["bytes_read"]), w);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_byte_counters_equal_client_counts() {
    let srv = start(args()).await;
    let a = srv.addr;

    // publish: two requests on one keep-alive connection.
    let mut c = Client::new(a).await;
    for data in ["one", "two\nlines"] {
        let req = Request::post("/publish/b?event=e1")
            .header("host", a.to_string())
            .body(Full::new(Bytes::from(data)))
            .unwrap();
        let r = c.request(req).await;
        assert_eq!(r.status(), 200);
        text(r).await;
    }
    let counts = c.counts.clone();
    c.close().await;
    settle(a, "publish", &counts).await;

    // poll: three requests, one keep-alive connection.
    let mut c = Client::new(a).await;
    for since in [0, 1, 2] {
        text(c.get(&format!("/poll/b?since={since}")).await).await;
    }
    let counts = c.counts.clone();
    c.close().await;
    settle(a, "poll", &counts).await;

    // long poll: one answered at once, one timing out.
    let mut c = Client::new(a).await;
    text(c.get("/long-poll/b?since=0").await).await;
    text(c.get("/long-poll/b?since=2&timeout=30").await).await;
    let counts = c.counts.clone();
    c.close().await;
    settle(a, "long-poll", &counts).await;

    // stream and SSE: replay two messages, then the client hangs up.
    let mut c = Client::new(a).await;
    let mut s = StreamSub::new(c.get("/stream/b").await);
    s.next().await.unwrap();
    s.next().await.unwrap();
    let counts = c.counts.clone();
    drop(s);
    c.close().await;
    settle(a, "stream", &counts).await;

    let mut c = Client::new(a).await;
    let mut s = SseSub::new(c.get("/sse/b").await);
    s.next().await.unwrap();
    s.next().await.unwrap();
    let counts = c.counts.clone();
    drop(s);
    c.close().await;
    settle(a, "sse", &counts).await;

    // WebSocket: handshake, two messages, a ping, the closing handshake.
    let (mut ws, counts) = ws_connect(a, "/ws/b").await;
    let mut gaps = Vec::new();
    ws_next(&mut ws, &mut gaps).await.unwrap();
    ws_next(&mut ws, &mut gaps).await.unwrap();
    ws.send(tokio_tungstenite::tungstenite::Message::Ping(
        Bytes::from_static(b"p"),
    ))
    .await
    .unwrap();
    ws.close(None).await.unwrap();
    while let Some(Ok(_)) = tokio::time::timeout(WAIT, ws.next()).await.unwrap() {}
    drop(ws);
    settle(a, "ws", &counts).await;

    let s = stats(a).await;
    let t = &s["techniques"];
    assert_eq!(t["publish"]["requests"], 2);
    assert_eq!(t["poll"]["requests"], 3);
    assert_eq!(t["poll"]["delivered"], 3);
    assert_eq!(t["poll"]["empty_responses"], 1);
    assert_eq!(t["long-poll"]["requests"], 2);
    assert_eq!(t["long-poll"]["long_poll_timeouts"], 1);
    assert_eq!(t["stream"]["requests"], 1);
    assert_eq!(t["sse"]["requests"], 1);
    assert_eq!(t["ws"]["requests"], 1);
    assert_eq!(t["ws"]["delivered"], 2);
    assert!(
        u(&t["other"]["requests"]) >= 6,
        "the /stats requests are `other`"
    );

    // /metrics carries the same numbers; reset zeroes counters, not gauges.
    let (st, m) = get(a, "/metrics").await;
    assert_eq!(st, 200);
    assert!(
        m.contains("pushbench_requests_total{technique=\"poll\"} 3"),
        "{m}"
    );
    assert!(m.contains("process_resident_memory_bytes "));
    assert!(
        m.contains("pushbench_connections{technique=\"sse\"} 0"),
        "{m}"
    );
    let mut c = Client::new(a).await;
    let req = Request::post("/stats/reset")
        .header("host", a.to_string())
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(c.request(req).await.status(), 200);
    c.close().await;
    let s = stats(a).await;
    assert_eq!(s["techniques"]["poll"]["requests"], 0);
    assert_eq!(s["techniques"]["ws"]["bytes_written"], 0);
    assert_eq!(s["published"], 0);
    assert!(u(&s["process"]["rss_bytes"]) > 0);
    assert!(u(&s["process"]["open_fds"]) > 0);
}
