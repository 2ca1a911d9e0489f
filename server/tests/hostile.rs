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
