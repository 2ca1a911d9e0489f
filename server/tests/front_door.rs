//! The connection's front door (server/src/front): body-less GETs of SSE, stream and long poll
//! are served without hyper, on the wire as RFC 9112 wants (chunked for HTTP/1.1,
//! close-delimited for HTTP/1.0, `Connection: close`, pipelined long polls on one connection);
//! everything else (HEAD, a body, an Upgrade, an over-long head, a publish pipelined behind a
//! long poll) reaches hyper unchanged; a head trickled byte by byte is still read; a silent
//! connection is still closed after `--header-read-timeout`; a client that leaves is noticed.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::*;

/// Reads to EOF (bounded by WAIT).
async fn read_to_eof(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut out))
        .await
        .expect("EOF within WAIT")
        .expect("read");
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits `text` into complete answers with a Content-Length: (head, body) each.
fn answers(mut text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while let Some((head, rest)) = text.split_once("\r\n\r\n") {
        let len: usize = header_values(head, "content-length")
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if rest.len() < len {
            break;
        }
        out.push((head.to_string(), rest[..len].to_string()));
        text = &rest[len..];
    }
    out
}

/// The values (trimmed) of every `name` field of `head`, in order.
fn header_values<'a>(head: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> {
    head.lines().filter_map(move |l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn has_header(head: &str, name: &str, value: &str) -> bool {
    header_values(head, name).any(|v| v.eq_ignore_ascii_case(value))
}

async fn send(a: SocketAddr, raw: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(a).await.unwrap();
    s.write_all(raw).await.unwrap();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http11_sse_is_chunked_with_date_and_cors_and_ends_with_the_terminal_chunk() {
    let mut a = args();
    a.allow_origin = Some("*".to_string());
    let srv = start(a).await;
    publish(srv.addr, "c", "one", None).await;
    let mut s = send(srv.addr, b"GET /sse/c HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let text = read_until(&mut s, |t| t.contains("data: one\n\n\r\n")).await;
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    for (k, v) in [
        ("transfer-encoding", "chunked"),
        ("content-type", "text/event-stream"),
        ("cache-control", "no-store"),
        ("x-accel-buffering", "no"),
        ("access-control-allow-origin", "*"),
    ] {
        assert!(has_header(head, k, v), "{k}: {head}");
    }
    let date = head.lines().find_map(|l| l.strip_prefix("date: ")).unwrap();
    assert!(httpdate::parse_http_date(date).is_ok(), "{date}");
    // Each frame its own chunk: the retry hint, then the event.
    // Chunk sizes in upper-case hex, as hyper writes them (docs/PROTOCOL.md's exchanges).
    assert!(body.starts_with("D\r\nretry: 2000\n\n\r\n"), "{body:?}");
    assert!(body.contains("id: 1\n"), "{body:?}");
    srv.shutdown.cancel();
    let rest = read_to_eof(&mut s).await;
    assert_eq!(rest, "0\r\n\r\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http10_sse_is_close_delimited_and_closed_at_shutdown() {
    let srv = start(args()).await;
    publish(srv.addr, "h", "old", None).await;
    let mut s = send(srv.addr, b"GET /sse/h HTTP/1.0\r\n\r\n").await;
    let text = read_until(&mut s, |t| t.contains("data: old\n\n")).await;
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(!lower.contains("transfer-encoding"), "{head}");
    assert!(!lower.contains("content-length"), "{head}");
    assert_eq!(body, "retry: 2000\n\nid: 1\ndata: old\n\n");
    srv.shutdown.cancel();
    assert_eq!(read_to_eof(&mut s).await, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_long_polls_share_one_connection_then_a_publish_goes_to_hyper() {
    let srv = start(args()).await;
    let a = srv.addr;
    publish(a, "p", "m1", None).await;
    publish(a, "p", "m2", None).await;
    let body = "late";
    let raw = format!(
        "GET /long-poll/p?since=0 HTTP/1.1\r\nHost: x\r\n\r\n\
         GET /long-poll/p?since=2&timeout=50 HTTP/1.1\r\nHost: x\r\n\r\n\
         POST /publish/p HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}\
         GET /long-poll/p?since=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut s = send(a, raw.as_bytes()).await;
    let text = read_to_eof(&mut s).await;
    let got = answers(&text);
    assert_eq!(got.len(), 4, "{text}");
    for (head, _) in &got {
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    }
    let (next, msgs, _) = poll_answer(&got[0].1);
    assert_eq!((next, msgs.len()), (2, 2));
    // Timed out empty, after 50 ms.
    assert_eq!(poll_answer(&got[1].1), (2, vec![], None));
    assert!(got[2].1.contains("\"id\":3"), "{}", got[2].1);
    let (next, msgs, _) = poll_answer(&got[3].1);
    assert_eq!((next, msgs[0].data.as_str()), (3, "late"));
    assert!(has_header(&got[3].0, "connection", "close"), "{}", got[3].0);
    let st = stats(a).await;
    assert_eq!(st["techniques"]["long-poll"]["requests"], 3, "{st}");
    assert_eq!(
        st["techniques"]["long-poll"]["long_poll_timeouts"], 1,
        "{st}"
    );
    assert_eq!(st["connection_errors"], 0, "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_upgrade_and_bodies_are_answered_by_hyper_as_before() {
    let srv = start(args()).await;
    let a = srv.addr;
    // HEAD: the 405 of the router (only GET is served).
    let mut s = send(a, b"HEAD /sse/t HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let text = read_until(&mut s, |t| t.contains("\r\n\r\n")).await;
    assert!(text.starts_with("HTTP/1.1 405"), "{text}");
    assert!(has_header(&text, "allow", "GET, OPTIONS"), "{text}");
    // A GET with a body: still the stream (the body is not read), from hyper.
    let mut s = send(
        a,
        b"GET /stream/t HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
    )
    .await;
    let text = read_until(&mut s, |t| t.contains("\r\n\r\n")).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        has_header(&text, "content-type", "application/x-ndjson"),
        "{text}"
    );
    // An Upgrade to a streaming route: hyper, which the SSE handler answers 200 (not 101).
    let mut s = send(
        a,
        b"GET /sse/t HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    )
    .await;
    let text = read_until(&mut s, |t| t.contains("\r\n\r\n")).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    // A WebSocket upgrade works as ever.
    let (mut ws, _) = ws_connect(a, "/ws/t").await;
    publish(a, "t", "hi", None).await;
    let mut gaps = Vec::new();
    let m = ws_next(&mut ws, &mut gaps).await.expect("ws message");
    assert_eq!(m.data, "hi");
    let st = stats(a).await;
    assert_eq!(st["techniques"]["stream"]["requests"], 1, "{st}");
    assert_eq!(st["techniques"]["sse"]["requests"], 2, "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_trickled_byte_by_byte_is_read_and_long_heads_go_to_hyper() {
    let srv = start(args()).await;
    let a = srv.addr;
    let mut s = TcpStream::connect(a).await.unwrap();
    s.set_nodelay(true).unwrap();
    for b in b"GET /stream/t?since=0 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n" {
        s.write_all(&[*b]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let text = read_until(&mut s, |t| t.contains("\r\n\r\n")).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    // 20 KiB of headers: past the front door's 8 KiB, within hyper's limit: served.
    let big = format!(
        "GET /sse/t HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "b".repeat(20 * 1024)
    );
    let mut s = send(a, big.as_bytes()).await;
    let text = read_until(&mut s, |t| t.contains("\r\n\r\n")).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    // 1 MiB: past hyper's limit too: 431.
    let huge = format!(
        "GET /sse/t HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "b".repeat(1024 * 1024)
    );
    let mut s = TcpStream::connect(a).await.unwrap();
    // The server may answer and close before all of it is written.
    let _ = s.write_all(huge.as_bytes()).await;
    let text = read_until(&mut s, |t| t.contains("\r\n")).await;
    assert!(text.starts_with("HTTP/1.1 431"), "{text}");
    let st = stats(a).await;
    assert_eq!(st["techniques"]["stream"]["requests"], 1, "{st}");
    assert_eq!(st["techniques"]["sse"]["requests"], 1, "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_idle_keep_alive_connections_are_closed_after_the_header_read_timeout() {
    let mut a = args();
    a.header_read_timeout = Duration::from_millis(300);
    let srv = start(a).await;
    let a = srv.addr;
    publish(a, "k", "m", None).await;
    let mut silent = TcpStream::connect(a).await.unwrap();
    let mut partial = send(a, b"GET /sse/k HTTP/1.1\r\nHost").await;
    // An answered long poll, then nothing: idle keep-alive.
    let mut idle = send(a, b"GET /long-poll/k?since=0 HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let text = read_until(&mut idle, |t| !answers(t).is_empty()).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let started = std::time::Instant::now();
    assert_eq!(read_to_eof(&mut silent).await, "");
    assert_eq!(read_to_eof(&mut partial).await, "");
    assert_eq!(read_to_eof(&mut idle).await, "");
    assert!(started.elapsed() < Duration::from_secs(3));
    let st = stats(a).await;
    assert_eq!(st["connection_errors"], 0, "{st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_that_leave_are_noticed_and_their_connections_end() {
    let srv = start(args()).await;
    let a = srv.addr;
    let lp = send(
        a,
        b"GET /long-poll/g?since=0&timeout=60000 HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    let mut sse = send(a, b"GET /sse/g HTTP/1.1\r\nHost: x\r\n\r\n").await;
    read_until(&mut sse, |t| t.contains("retry")).await;
    stats_until(a, "both open", |s| {
        s["techniques"]["long-poll"]["connections"] == 1
            && s["techniques"]["sse"]["connections"] == 1
    })
    .await;
    drop(lp);
    drop(sse);
    let st = stats_until(a, "both closed", |s| {
        s["techniques"]["long-poll"]["connections"] == 0
            && s["techniques"]["sse"]["connections"] == 0
    })
    .await;
    // As with hyper: a client that vanishes mid-response is a connection error.
    assert_eq!(st["connection_errors"], 2, "{st}");
}
