//! The clients against byte-level fake servers: silence, refusal, 503, streams cut at awkward
//! places, and reconnects that must resume from the right cursor.

mod fake_common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use fake_common::*;
use loadgen::stats::ErrorKind;
use loadgen::technique::Technique;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[tokio::test]
async fn a_silent_server_is_a_timeout_for_every_technique() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    // Accepts and holds every connection, never writing a byte.
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    for technique in Technique::ALL {
        let (rec, token, task) = start(spec(technique, addr, Duration::from_millis(200)));
        let timed_out = wait_until(T, || errors(&rec.snapshot(), ErrorKind::Timeout) >= 1).await;
        stop(token, task).await;
        let s = rec.snapshot();
        assert!(timed_out, "{technique}: {s:?}");
        assert_eq!(s.connections, 0, "{technique}");
        assert!(s.requests >= 1, "{technique}");
    }
    holder.abort();
}

#[tokio::test]
async fn a_stream_that_goes_quiet_is_a_timeout() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut s, _)) = l.accept().await {
            read_request(&mut s).await;
            let head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
            s.write_all(head).await.unwrap();
            s.write_all(&chunk(b"retry: 10\n\n")).await.unwrap();
            held.push(s);
        }
    });
    let (rec, token, task) = start(spec(Technique::Sse, addr, Duration::from_millis(150)));
    let timed_out = wait_until(T, || errors(&rec.snapshot(), ErrorKind::Timeout) >= 2).await;
    stop(token, task).await;
    assert!(timed_out, "{:?}", rec.snapshot());
    assert!(rec.snapshot().reconnects >= 1);
    server.abort();
}

#[tokio::test]
async fn an_unreachable_server_is_a_connect_error() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    for technique in Technique::ALL {
        let (rec, token, task) = start(spec(technique, addr, T));
        let failed = wait_until(T, || errors(&rec.snapshot(), ErrorKind::Connect) >= 2).await;
        stop(token, task).await;
        let s = rec.snapshot();
        assert!(failed, "{technique}: {s:?}");
        assert_eq!(
            (s.connections, s.requests, s.reconnects),
            (0, 0, 0),
            "{technique}"
        );
    }
}

/// SSE: events split across reads at awkward bytes (CR | LF between reads, a payload cut in
/// two), a gap event, a comment; then the stream ends, and the client must come back after
/// the `retry:` time with `Last-Event-ID` and the same URL.
#[tokio::test]
async fn sse_reconnects_with_last_event_id_after_retry() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (p1, p2, p3) = (pl(1), pl(2), pl(3));
    let rec = recorder(Technique::Sse);
    let r = Arc::clone(&rec);
    let server = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let req = read_request(&mut s).await;
        assert!(req.starts_with("GET /sse/t?since=0 HTTP/1.1\r\n"), "{req}");
        assert!(req.contains("\r\nAccept: text/event-stream\r\n"), "{req}");
        assert!(!req.contains("Last-Event-ID"), "{req}");
        let first = format!(
            "retry: 300\r\n\r\nevent: gap\ndata: {{\"since\":0,\"first_available\":1}}\n\nid: 1\ndata: {p1}\r"
        );
        let (p2a, p2b) = p2.split_at(10);
        dribble(
            &mut s,
            &r,
            &[
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n",
                b"Transfer-Encoding: chunked\r\n\r\n",
                &chunk(first.as_bytes()),
                &chunk(b"\n\r"),
                &chunk(format!("\n: hb\n\nid: 2\ndata: {p2a}").as_bytes()),
                &chunk(format!("{p2b}\n\nid: 3\ndata: cut off").as_bytes()),
                b"0\r\n\r\n",
            ],
        )
        .await;
        drop(s);
        let closed = Instant::now();
        let (mut s, _) = l.accept().await.unwrap();
        let waited = closed.elapsed();
        let req = read_request(&mut s).await;
        assert!(req.starts_with("GET /sse/t?since=0 HTTP/1.1\r\n"), "{req}");
        assert!(req.contains("\r\nLast-Event-ID: 2\r\n"), "{req}");
        let body = format!("id: 3\ndata: {p3}\n\n");
        dribble(
            &mut s,
            &r,
            &[
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n",
                body.as_bytes(),
            ],
        )
        .await;
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest).await;
        waited
    });
    let (token, task) = start_with(spec(Technique::Sse, addr, T), rec.clone());
    wait_until(T, || rec.snapshot().delivered >= 3).await;
    stop(token, task).await;
    let waited = server.await.unwrap();
    // retry: 300 ms, less 10% jitter at most (the error backoff would be 100 ms).
    assert!(
        waited >= Duration::from_millis(260),
        "reconnected after {waited:?}"
    );
    let s = rec.snapshot();
    assert_eq!(
        (s.delivered, s.duplicates, s.received_total),
        (3, 0, 3),
        "{s:?}"
    );
    assert_eq!((s.requests, s.reconnects), (2, 1), "{s:?}");
    assert_eq!(errors(&s, ErrorKind::Closed), 1, "{s:?}");
    assert_eq!(s.error_map().len(), 1, "{s:?}");
}

/// Stream: NDJSON lines cut across chunks, heartbeats, a gap line; the server closes, and the
/// client resumes with `since` = the last id it received.
#[tokio::test]
async fn stream_splits_lines_and_resumes_from_the_last_id() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let line = |id: u64| format!("{{\"id\":{id},\"data\":\"{}\"}}\n", pl(id));
    let (l1, l2, l3) = (line(1), line(2), line(3));
    let rec = recorder(Technique::Stream);
    let r = Arc::clone(&rec);
    let server = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let req = read_request(&mut s).await;
        assert!(
            req.starts_with("GET /stream/t?since=0 HTTP/1.1\r\n"),
            "{req}"
        );
        let (a, b) = l2.split_at(7);
        let gap = "{\"gap\":{\"since\":0,\"first_available\":1}}\n";
        dribble(
            &mut s,
            &r,
            &[
                b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n",
                &chunk(format!("{gap}\n{l1}{a}").as_bytes()),
                &chunk(&b.as_bytes()[..b.len() - 1]),
                &chunk(b"\n\n"),
            ],
        )
        .await;
        drop(s);
        let (mut s, _) = l.accept().await.unwrap();
        let req = read_request(&mut s).await;
        assert!(
            req.starts_with("GET /stream/t?since=2 HTTP/1.1\r\n"),
            "{req}"
        );
        dribble(
            &mut s,
            &r,
            &[
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                &chunk(l3.as_bytes()),
            ],
        )
        .await;
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest).await;
    });
    let (token, task) = start_with(spec(Technique::Stream, addr, T), rec.clone());
    wait_until(T, || rec.snapshot().delivered >= 3).await;
    stop(token, task).await;
    server.await.unwrap();
    let s = rec.snapshot();
    assert_eq!(
        (s.delivered, s.duplicates, s.received_total),
        (3, 0, 3),
        "{s:?}"
    );
    assert_eq!((s.requests, s.reconnects), (2, 1), "{s:?}");
    assert_eq!(errors(&s, ErrorKind::Closed), 1, "{s:?}");
}

/// Poll: a 503 is counted and retried; answers come back on one keep-alive connection with the
/// cursor moving to `next`; an empty answer is counted.
#[tokio::test]
async fn poll_retries_a_503_and_follows_next() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (p1, p2) = (pl(1), pl(2));
    let rec = recorder(Technique::Poll);
    let r = Arc::clone(&rec);
    let server = tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        read_request(&mut s).await;
        s.write_all(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy")
            .await
            .unwrap();
        drop(s);
        let (mut s, _) = l.accept().await.unwrap();
        let answers = [
            (
                "since=0",
                format!(
                    "{{\"next\":2,\"messages\":[{{\"id\":1,\"data\":\"{p1}\"}},{{\"id\":2,\"data\":\"{p2}\"}}]}}"
                ),
            ),
            ("since=2", "{\"next\":2,\"messages\":[]}".to_string()),
        ];
        for (cursor, body) in answers {
            let req = read_request(&mut s).await;
            assert!(
                req.starts_with(&format!("GET /poll/t?{cursor} HTTP/1.1\r\n")),
                "{req}"
            );
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let (a, b) = answer.split_at(answer.len() / 2);
            dribble(&mut s, &r, &[a.as_bytes(), b.as_bytes()]).await;
        }
        // Then silence: the next poll times out.
        let _ = read_request(&mut s).await;
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest).await;
    });
    let poll = spec(Technique::Poll, addr, Duration::from_millis(300));
    let (token, task) = start_with(poll, rec.clone());
    wait_until(T, || errors(&rec.snapshot(), ErrorKind::Timeout) >= 1).await;
    stop(token, task).await;
    server.abort();
    let s = rec.snapshot();
    assert_eq!((s.delivered, s.empty_responses), (2, 1), "{s:?}");
    assert_eq!(errors(&s, ErrorKind::HttpStatus), 1, "{s:?}");
    assert_eq!(errors(&s, ErrorKind::Timeout), 1, "{s:?}");
    assert!(s.requests >= 4, "{s:?}");
    assert!(s.reconnects >= 1, "{s:?}");
}

/// Poll: a kept-alive connection the server closed while idle is replaced at once, as a
/// browser does, without an error; the cursor carries over.
#[tokio::test]
async fn poll_replaces_a_connection_closed_while_idle() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (p1, p2) = (pl(1), pl(2));
    let server = tokio::spawn(async move {
        for (cursor, id, p) in [("since=0", 1, p1), ("since=1", 2, p2)] {
            let (mut s, _) = l.accept().await.unwrap();
            let req = read_request(&mut s).await;
            assert!(
                req.starts_with(&format!("GET /poll/t?{cursor} HTTP/1.1\r\n")),
                "{req}"
            );
            let body = format!("{{\"next\":{id},\"messages\":[{{\"id\":{id},\"data\":\"{p}\"}}]}}");
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            s.write_all(answer.as_bytes()).await.unwrap();
            // Close without `Connection: close`, as an idle keep-alive timeout does.
        }
        // Then hold the third connection, answering nothing.
        let (mut s, _) = l.accept().await.unwrap();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest).await;
    });
    let mut sp = spec(Technique::Poll, addr, T);
    sp.poll_interval = Duration::from_millis(50);
    let (rec, token, task) = start(sp);
    wait_until(T, || rec.snapshot().reconnects >= 2).await;
    stop(token, task).await;
    server.abort();
    let s = rec.snapshot();
    assert_eq!((s.delivered, s.duplicates), (2, 0), "{s:?}");
    assert_eq!(s.reconnects, 2, "{s:?}");
    assert!(s.error_map().is_empty(), "{s:?}");
}
