//! Errors (400/404/405/413/503), CORS, a stalled reader that must not hold anyone up, a
//! malformed WebSocket frame, HTTP/1.0 streaming, and graceful shutdown.

mod common;

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::*;

async fn status_of(a: std::net::SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut c = Client::new(a).await;
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", a.to_string())
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();
    let r = c.request(req).await;
    let st = r.status().as_u16();
    let t = text(r).await;
    (st, t)
}

/// Reads a raw response until EOF (bounded).
async fn read_all(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(WAIT, s.read_to_end(&mut out))
        .await
        .expect("read timeout");
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_statuses() {
    let mut args = args();
    args.max_payload_bytes = 100;
    let srv = start(args).await;
    let a = srv.addr;
    let cases: &[(&str, &str, &str, u16)] = &[
        ("GET", "/nope", "", 404),
        ("GET", "/poll", "", 404),
        ("GET", "/poll/", "", 400),
        ("GET", "/poll/a/b", "", 400),
        ("GET", "/poll/bad!topic", "", 400),
        ("GET", &format!("/sse/{}", "x".repeat(65)), "", 400),
        ("GET", "/poll/x?since=-1", "", 400),
        ("GET", "/stream/x?since=abc", "", 400),
        ("GET", "/ws/x?since=1.5", "", 400),
        ("GET", "/ws/x", "", 400),
        ("GET", "/publish/x", "", 405),
        ("POST", "/poll/x", "", 405),
        ("DELETE", "/sse/x", "", 405),
        ("GET", "/stats/reset", "", 405),
        ("POST", "/publish/x?event=bad%20name", "hi", 400),
        ("POST", "/publish/x", &"y".repeat(101), 413),
        ("POST", "/publish/x", &"y".repeat(100), 200),
        ("GET", "/", "", 200),
    ];
    for (m, p, b, want) in cases {
        let (st, body) = status_of(a, m, p, b).await;
        assert_eq!(st, *want, "{m} {p}: {body}");
        if *want == 400 {
            assert!(
                body.starts_with("bad ") || body.contains("WebSocket"),
                "{p}: {body}"
            );
        }
    }
    // A bad Last-Event-ID is a bad cursor.
    let mut c = Client::new(a).await;
    let req = Request::get("/sse/x")
        .header("host", a.to_string())
        .header("last-event-id", "abc")
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(c.request(req).await.status(), 400);
    // Invalid UTF-8 payload.
    let req = Request::post("/publish/x")
        .header("host", a.to_string())
        .body(Full::new(Bytes::from_static(&[0xff, 0xfe])))
        .unwrap();
    let r = c.request(req).await;
    assert_eq!(r.status(), 400);
    assert_eq!(text(r).await, "bad payload: not UTF-8\n");
    // OPTIONS: 204 on a known path, 404 elsewhere.
    assert_eq!(status_of(a, "OPTIONS", "/poll/x", "").await.0, 204);
    assert_eq!(status_of(a, "OPTIONS", "/nope", "").await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_headers_and_preflight() {
    let mut args = args();
    args.allow_origin = Some("https://example.com".into());
    let srv = start(args).await;
    let a = srv.addr;
    let mut c = Client::new(a).await;
    let req = Request::options("/sse/x")
        .header("host", a.to_string())
        .header("origin", "https://example.com")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "last-event-id")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let r = c.request(req).await;
    assert_eq!(r.status(), 204);
    let h = r.headers();
    assert_eq!(h["access-control-allow-origin"], "https://example.com");
    assert!(
        h["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("GET")
    );
    assert_eq!(h["access-control-allow-headers"], "last-event-id");
    text(r).await;
    let r = c.get("/poll/x").await;
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://example.com"
    );
    text(r).await;
    let r = c.get("/nope").await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://example.com"
    );

    // Without --allow-origin: no CORS header.
    let srv2 = start(common::args()).await;
    let mut c = Client::new(srv2.addr).await;
    let r = c.get("/poll/x").await;
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_connection_limit_is_503_not_a_hang() {
    let mut args = args();
    args.max_connections = 2;
    let srv = start(args).await;
    let a = srv.addr;
    let mut c1 = Client::new(a).await;
    let mut c2 = Client::new(a).await;
    text(c1.get("/poll/x").await).await;
    text(c2.get("/poll/x").await).await;
    let mut s = TcpStream::connect(a).await.unwrap();
    s.write_all(b"GET /poll/x HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_all(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1\r\n"),
        "{answer}"
    );
    c1.close().await;
    c2.close().await;
    let st = stats_until(a, "connections closed", |s| s["open_connections"] == 1).await;
    // The third connection, plus any /stats request that raced the two closes.
    assert!(st["rejected_connections"].as_u64().unwrap() >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_reader_is_disconnected_and_delays_no_one() {
    let mut args = args();
    args.subscriber_queue = 8;
    args.heartbeat = Duration::from_millis(100);
    args.retention = 16;
    let srv = start(args).await;
    let a = srv.addr;

    // Stalled readers with tiny receive buffers: they send a request and never read.
    let stalled_socket = || async {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.set_recv_buffer_size(4096).unwrap();
        sock.connect(a).await.unwrap()
    };
    let mut stalled_stream = stalled_socket().await;
    stalled_stream
        .write_all(b"GET /stream/s HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut stalled_ws = stalled_socket().await;
    stalled_ws
        .write_all(
            b"GET /ws/s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        )
        .await
        .unwrap();
    // A healthy subscriber.
    let mut c = Client::new(a).await;
    let mut sse = SseSub::new(c.get("/sse/s").await);
    stats_until(a, "subscribers connected", |s| {
        s["techniques"]["stream"]["connections"] == 1 && s["techniques"]["ws"]["connections"] == 1
    })
    .await;

    // Publish in lock step with the healthy subscriber: 80 x 128 KiB = 10 MiB, far more than
    // the stalled sockets' buffers hold.
    let big = "z".repeat(128 * 1024);
    for i in 1..=80u64 {
        assert_eq!(publish(a, "s", &big, None).await, i);
        let m = sse.next().await.expect("healthy subscriber still served");
        assert_eq!(m.id, i);
        assert_eq!(m.data.len(), big.len());
    }
    let s = stats_until(a, "both stalled readers disconnected", |s| {
        s["techniques"]["stream"]["slow_disconnects"] == 1
            && s["techniques"]["ws"]["slow_disconnects"] == 1
    })
    .await;
    assert_eq!(s["techniques"]["sse"]["slow_disconnects"], 0);
    assert_eq!(s["techniques"]["sse"]["delivered"], 80);
    // The stalled sockets were closed by the server: reading them ends (after buffered data).
    let mut sink = vec![0u8; 1 << 16];
    for sock in [&mut stalled_stream, &mut stalled_ws] {
        let ended = tokio::time::timeout(WAIT, async {
            loop {
                match sock.read(&mut sink).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => continue,
                }
            }
        })
        .await;
        assert!(ended.is_ok(), "the stalled connection was not closed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_ws_frame_closes_only_that_socket() {
    let srv = start(args()).await;
    let a = srv.addr;
    let (mut good, _) = ws_connect(a, "/ws/m").await;
    let mut bad = TcpStream::connect(a).await.unwrap();
    bad.write_all(
        b"GET /ws/m HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        bad.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    assert!(
        head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "accept key: {head}"
    );
    // Reserved opcode 0x3, masked, empty payload: a protocol error.
    bad.write_all(&[0x83, 0x80, 1, 2, 3, 4]).await.unwrap();
    let rest = {
        let mut out = Vec::new();
        tokio::time::timeout(WAIT, bad.read_to_end(&mut out))
            .await
            .unwrap()
            .ok();
        out
    };
    assert!(rest.len() >= 4, "expected a close frame, got {rest:?}");
    assert_eq!(rest[0], 0x88, "close frame");
    assert_eq!(u16::from_be_bytes([rest[2], rest[3]]), 1002, "close code");

    publish(a, "m", "still here", None).await;
    let mut gaps = Vec::new();
    let m = ws_next(&mut good, &mut gaps).await.unwrap();
    assert_eq!(m.data, "still here");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http10_stream_is_close_delimited() {
    let srv = start(args()).await;
    let a = srv.addr;
    publish(a, "h", "old", None).await;
    let mut s = TcpStream::connect(a).await.unwrap();
    s.write_all(b"GET /stream/h HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !String::from_utf8_lossy(&buf).contains("\"old\"}\n") {
        let n = tokio::time::timeout(WAIT, s.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    assert!(
        !head.to_ascii_lowercase().contains("transfer-encoding"),
        "{head}"
    );
    assert_eq!(body, "{\"id\":1,\"data\":\"old\"}\n");
    // Shutdown ends the body by closing the connection.
    srv.shutdown.cancel();
    let mut rest = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert!(rest.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_ends_every_stream() {
    let srv = start(args()).await;
    let a = srv.addr;
    let mut c1 = Client::new(a).await;
    let mut stream = StreamSub::new(c1.get("/stream/q").await);
    let mut c2 = Client::new(a).await;
    let mut sse = SseSub::new(c2.get("/sse/q").await);
    let (mut ws, _) = ws_connect(a, "/ws/q").await;
    let lp = tokio::spawn(async move {
        let mut c = Client::new(a).await;
        let r = c.get("/long-poll/q?since=0&timeout=60000").await;
        text(r).await
    });
    let mut idle = Client::new(a).await;
    text(idle.get("/poll/q").await).await;
    stats_until(a, "long poll waiting", |s| {
        s["techniques"]["long-poll"]["requests"] == 1
    })
    .await;

    srv.shutdown.cancel();
    // Streams end cleanly (a clean end of body, not an error).
    assert_eq!(stream.next().await, None);
    assert_eq!(sse.next().await, None);
    let mut gaps = Vec::new();
    assert_eq!(ws_next(&mut ws, &mut gaps).await, None, "close frame");
    let body = tokio::time::timeout(WAIT, lp).await.unwrap().unwrap();
    assert_eq!(poll_answer(&body), (0, vec![], None));
    tokio::time::timeout(WAIT, srv.task)
        .await
        .expect("run() returned")
        .unwrap();
    // Nothing listens any more.
    assert!(TcpStream::connect(a).await.is_err());
}
