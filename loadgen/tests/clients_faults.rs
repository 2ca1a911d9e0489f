//! The clients against byte-level fake servers: silence, refusal, 503, streams cut at awkward
//! places, and reconnects that must resume from the right cursor.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loadgen::clients::{ClientSpec, run_client};
use loadgen::payload::{self, Header};
use loadgen::stats::{ErrorKind, Recorder, Snapshot};
use loadgen::technique::Technique;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const T: Duration = Duration::from_secs(5);

fn spec(technique: Technique, server: SocketAddr, read_timeout: Duration) -> ClientSpec {
    ClientSpec {
        technique,
        server,
        host: server.to_string(),
        path_prefix: String::new(),
        topic: "t".into(),
        topic_index: 0,
        poll_interval: Duration::from_millis(10),
        long_poll_timeout: Duration::from_millis(100),
        connect_timeout: Duration::from_secs(2),
        read_timeout,
        source_addr: None,
        since: 0,
        seed: 1,
        index: 0,
    }
}

fn errors(s: &Snapshot, kind: ErrorKind) -> u64 {
    s.error_map().get(kind.name()).copied().unwrap_or(0)
}

async fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cond()
}

/// Starts one client; returns its recorder, its stop token and its task.
fn start(spec: ClientSpec) -> (Arc<Recorder>, CancellationToken, JoinHandle<()>) {
    let rec = recorder(spec.technique);
    let (stop, task) = start_with(spec, Arc::clone(&rec));
    (rec, stop, task)
}

/// A recorder whose window holds messages 1..=1000.
fn recorder(technique: Technique) -> Arc<Recorder> {
    let rec = Arc::new(Recorder::new(technique, 1));
    rec.window.open(0, 1);
    rec.window.close(0, 1000);
    rec
}

/// Starts one client recording into `rec`; returns its stop token and its task.
fn start_with(spec: ClientSpec, rec: Arc<Recorder>) -> (CancellationToken, JoinHandle<()>) {
    let stop = CancellationToken::new();
    let task = tokio::spawn(run_client(spec, rec, stop.clone()));
    (stop, task)
}

/// Stops a client and checks that it ends within shutdown + grace.
async fn stop(stop: CancellationToken, task: JoinHandle<()>) {
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(3), task)
        .await
        .expect("the client hung past shutdown")
        .unwrap();
}

fn pl(seq: u64) -> String {
    payload::encode(
        Header {
            topic: 0,
            seq,
            scheduled_us: payload::now_us(),
        },
        40,
    )
}

/// Reads one request head from a fake server's socket.
async fn read_request(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            s.read(&mut b).await.unwrap(),
            1,
            "client closed mid-request"
        );
        head.push(b[0]);
    }
    String::from_utf8(head).unwrap()
}

/// Writes `pieces` one by one, each once the client (recording into `rec`) has read the one
/// before from its socket, so each arrives in reads of its own whatever the machine's load.
async fn dribble(s: &mut TcpStream, rec: &Recorder, pieces: &[&[u8]]) {
    let mut read_by = rec.snapshot().bytes_down;
    for p in pieces {
        s.write_all(p).await.unwrap();
        s.flush().await.unwrap();
        read_by += p.len() as u64;
        let read = wait_until(T, || rec.snapshot().bytes_down >= read_by).await;
        assert!(
            read,
            "the client did not read {:?}",
            String::from_utf8_lossy(p)
        );
    }
}

fn chunk(data: &[u8]) -> Vec<u8> {
    let mut c = format!("{:x}\r\n", data.len()).into_bytes();
    c.extend_from_slice(data);
    c.extend_from_slice(b"\r\n");
    c
}

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
