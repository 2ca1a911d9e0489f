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
