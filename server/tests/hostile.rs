//! Hostile and careless clients, at small scale: WebSocket handshakes that RFC 6455 forbids,
//! reads of topics that do not exist (they must not use up `--max-topics`), and publish bodies
//! that stall (closed after `--body-read-timeout`, counted, memory released).

mod common;

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::*;

/// Sends `raw` on a new connection and returns the status code of the answer and what the
/// server sent before closing or within a short bound.
async fn raw_exchange(a: SocketAddr, raw: &str) -> (u16, String) {
    let mut s = TcpStream::connect(a).await.unwrap();
    s.write_all(raw.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    // Read until the head and its short body arrived, or the server closed.
    let _ = tokio::time::timeout(WAIT, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
            let text = String::from_utf8_lossy(&out);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len = head.lines().find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                });
                if head.contains(" 101 ") || len.is_some_and(|n| body.len() >= n) {
                    break;
                }
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (status, text)
}

fn ws_request(version: &str, key: &str) -> String {
    format!(
        "GET /ws/t HTTP/{version}\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_handshakes_with_a_bad_key_or_http10_are_refused_with_400() {
    let srv = start(args()).await;
    let a = srv.addr;
    for key in [
        "YWJj",
        "not-base64!!",
        "dGhlIHNhbXBsZSBub25jZQ",
        "dGhlIHNhbXBsZSBub25jZSE=",
    ] {
        let (status, text) = raw_exchange(a, &ws_request("1.1", key)).await;
        assert_eq!(status, 400, "key {key:?}: {text}");
        assert!(
            text.contains("Sec-WebSocket-Key must be a base64-encoded 16-byte nonce"),
            "{text}"
        );
    }
    let (status, text) = raw_exchange(a, &ws_request("1.0", "dGhlIHNhbXBsZSBub25jZQ==")).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("HTTP/1.1 or higher required"), "{text}");
    // None of them subscribed (or created the topic); a valid handshake still switches.
    assert_eq!(stats(a).await["topics"], 0);
    let (status, text) = raw_exchange(a, &ws_request("1.1", "dGhlIHNhbXBsZSBub25jZQ==")).await;
    assert_eq!(status, 101, "{text}");
    assert!(text.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_of_unknown_topics_do_not_use_up_max_topics() {
    let mut args = args();
    args.max_topics = 4;
    // Heartbeats let the server notice quickly that a subscriber went away.
    args.heartbeat = std::time::Duration::from_millis(100);
    let srv = start(args).await;
    let a = srv.addr;
    // Many short polls, long polls that time out, and subscribers that come and go, all on
    // topics nothing was ever published to, on one keep-alive connection where possible.
    let mut c = Client::new(a).await;
    for i in 0..40 {
        let r = c.get(&format!("/poll/junk{i}")).await;
        assert_eq!(r.status(), 200);
        assert_eq!(text(r).await, "{\"next\":0,\"messages\":[]}");
        let r = c.get(&format!("/long-poll/lp{i}?timeout=1")).await;
        assert_eq!(r.status(), 200, "long poll {i}");
        text(r).await;
    }
    for i in 0..10 {
        let mut s = Client::new(a).await;
        drop(SseSub::new(s.get(&format!("/sse/gone{i}")).await));
        s.close().await;
        let (mut ws, _) = ws_connect(a, &format!("/ws/wsgone{i}")).await;
        let _ = ws.close(None).await;
    }
    // Every slot is free again: new topics are created and published to.
    let s = stats_until(a, "empty topics released", |s| s["topics"] == 0).await;
    assert_eq!(s["techniques"]["poll"]["requests"], 40, "{s}");
    assert_eq!(publish(a, "real", "m", None).await, 1);

    // Subscribers hold their (empty) topics: the limit still applies to topics in use, and
    // a topic is freed when its last subscriber leaves.
    let mut held = Vec::new();
    for i in 0..3 {
        let mut s = Client::new(a).await;
        let sub = SseSub::new(s.get(&format!("/sse/held{i}")).await);
        held.push((s, sub));
    }
    assert_eq!(stats(a).await["topics"], 4);
    assert_eq!(get(a, "/stream/one-more").await.0, 503);
    // Two subscribers on one topic: it stays until both left.
    let mut second = Client::new(a).await;
    let second_sub = SseSub::new(second.get("/sse/held0").await);
    held.truncate(0);
    let s = stats_until(a, "subscribers' topics released", |s| {
        s["techniques"]["sse"]["connections"] == 1
    })
    .await;
    assert_eq!(s["topics"], 2, "held0 still has a subscriber: {s}");
    drop((second, second_sub));
    stats_until(a, "last subscriber gone", |s| s["topics"] == 1).await;
    // The published topic kept its message and its place.
    let (_, body) = get(a, "/poll/real").await;
    assert_eq!(poll_answer(&body).0, 1);
}

/// Reads until the server closes the connection (bounded by WAIT); returns what it sent.
async fn read_to_close(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let r = tokio::time::timeout(WAIT, s.read_to_end(&mut out)).await;
    assert!(
        r.is_ok(),
        "the server still holds the connection; it sent {out:?}"
    );
    String::from_utf8_lossy(&out).into_owned()
}

/// Opens a publish that declares `declared` bytes (chunked when None), sends `head_extra`
/// headers and `sent` body bytes, then stalls.
async fn stalled_publish(
    a: SocketAddr,
    declared: Option<usize>,
    extra: &str,
    sent: &[u8],
) -> TcpStream {
    let framing = match declared {
        Some(n) => format!("Content-Length: {n}"),
        None => "Transfer-Encoding: chunked".to_string(),
    };
    let mut s = TcpStream::connect(a).await.unwrap();
    let head = format!("POST /publish/up HTTP/1.1\r\nHost: x\r\n{framing}\r\n{extra}\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(sent).await.unwrap();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_publish_bodies_are_cut_after_the_body_read_timeout() {
    let mut args = args();
    args.body_read_timeout = std::time::Duration::from_millis(300);
    let srv = start(args).await;
    let a = srv.addr;
    let mut stalled = [
        // Most of a declared body, then nothing.
        stalled_publish(a, Some(200_000), "", &[b'x'; 150_000]).await,
        // Expect: 100-continue, then no body at all.
        stalled_publish(a, Some(1000), "Expect: 100-continue\r\n", b"").await,
        // One chunk of a chunked body, then nothing.
        stalled_publish(a, None, "", b"5\r\nhello\r\n").await,
    ];
    // While they stall, everyone else is served.
    assert_eq!(publish(a, "other", "fine", None).await, 1);
    for (i, s) in stalled.iter_mut().enumerate() {
        let answer = read_to_close(s).await;
        assert!(
            answer.contains("HTTP/1.1 408 Request Timeout\r\n"),
            "{i}: {answer}"
        );
        assert!(
            answer
                .to_ascii_lowercase()
                .contains("connection: close\r\n"),
            "{i}: {answer}"
        );
        assert!(answer.contains("--body-read-timeout"), "{i}: {answer}");
    }
    // A body sent with a request that takes none is not waited for either.
    let mut s = TcpStream::connect(a).await.unwrap();
    s.write_all(b"GET /poll/up HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc")
        .await
        .unwrap();
    let answer = read_to_close(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    // Counted; nothing buffered any more; nothing published from the cut bodies.
    let s = stats_until(a, "stalled connections closed", |s| {
        s["open_connections"] == 1
    })
    .await;
    assert_eq!(s["body_timeouts"], 3, "{s}");
    assert_eq!(s["published"], 1, "{s}");
    assert_eq!(srv.state.body_budget.used(), 0);
    let (_, metrics) = get(a, "/metrics").await;
    assert!(
        metrics.contains("pushbench_body_timeouts_total 3\n"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_bodies_beyond_the_body_buffer_budget_get_503() {
    let mut args = args();
    args.max_payload_bytes = 100_000;
    args.body_buffer_bytes = 150_000;
    args.body_read_timeout = std::time::Duration::from_secs(5);
    let srv = start(args).await;
    let a = srv.addr;
    // One stalled upload holds 100,000 of the 150,000 bytes.
    let mut first = stalled_publish(a, Some(100_000), "", &[b'x'; 1000]).await;
    stats_until(a, "the first upload is buffered", |_| {
        srv.state.body_budget.used() == 100_000
    })
    .await;
    // A second large one cannot fit: refused before its body is read, connection closed.
    let mut second = stalled_publish(a, Some(100_000), "Expect: 100-continue\r\n", b"").await;
    let answer = read_to_close(&mut second).await;
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1\r\n"),
        "{answer}"
    );
    assert!(answer.contains("--body-buffer-bytes"), "{answer}");
    assert!(!answer.contains("100 Continue"), "{answer}");
    // Small publishes still fit.
    assert_eq!(publish(a, "small", "fits", None).await, 1);
    // Once the first one is gone, a large body fits again.
    first.shutdown().await.unwrap();
    drop(first);
    stats_until(a, "the first upload's bytes given back", |_| {
        srv.state.body_budget.used() == 0
    })
    .await;
    assert_eq!(publish(a, "big", &"y".repeat(100_000), None).await, 1);
    assert_eq!(stats(a).await["body_buffer_rejections"], 1);
}
