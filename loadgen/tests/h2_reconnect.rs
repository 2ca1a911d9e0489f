//! HTTP/2 clients against a scripted HTTP/2 server (the `h2` crate's, in the test): ten SSE
//! clients on one connection (K = 10) get five events each; the server then drops the
//! connection, or sends GOAWAY and ends the streams. Every client must see its stream end and
//! come back, with `Last-Event-ID`, on ONE new connection (one reconnect counted, not ten),
//! and get the rest without a duplicate.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use loadgen::clients::{ClientSpec, Transport, run_client};
use loadgen::config::{HttpVersion, TransportConfig};
use loadgen::payload::{self, Header};
use loadgen::stats::Recorder;
use loadgen::technique::Technique;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const CLIENTS: u32 = 10;
const FIRST: u64 = 5;
const ALL: u64 = 10;
const T: Duration = Duration::from_secs(10);

/// What the scripted server saw.
#[derive(Debug, Default)]
struct Seen {
    connections: u32,
    /// Each request's connection number, path and `Last-Event-ID`.
    requests: Vec<(u32, String, Option<String>)>,
}

/// The event stream of events `from+1..=to`, after a `retry: 50`.
fn events(from: u64, to: u64) -> Bytes {
    let mut s = String::from("retry: 50\n\n");
    for seq in from + 1..=to {
        let h = Header {
            topic: 0,
            seq,
            scheduled_us: payload::now_us(),
        };
        s.push_str(&format!("id: {seq}\ndata: {}\n\n", payload::encode(h, 48)));
    }
    Bytes::from(s)
}

/// How the first connection ends.
#[derive(Debug, Clone, Copy)]
enum End {
    /// Dropped (the socket closed, no GOAWAY).
    Drop,
    /// GOAWAY, then each stream ended; the connection drains and closes.
    GoAway,
}

/// Serves event streams: the first connection gets events 1..=FIRST on each of its CLIENTS
/// streams and then ends as `end` says; later ones get the rest after each stream's
/// Last-Event-ID.
async fn serve(listener: TcpListener, seen: Arc<Mutex<Seen>>, end: End) {
    loop {
        let Ok((sock, _)) = listener.accept().await else {
            return;
        };
        let n = {
            let mut s = seen.lock().unwrap();
            s.connections += 1;
            s.connections
        };
        let seen = Arc::clone(&seen);
        tokio::spawn(async move {
            let Ok(mut conn) = h2::server::handshake(sock).await else {
                return;
            };
            let mut open: Vec<h2::SendStream<Bytes>> = Vec::new();
            loop {
                // The first connection ends a while after its last stream's events.
                let next = if n == 1 && open.len() == CLIENTS as usize {
                    let wait = tokio::time::timeout(Duration::from_millis(300), conn.accept());
                    match (wait.await, end) {
                        (Ok(r), _) => r,
                        (Err(_), End::Drop) => return,
                        (Err(_), End::GoAway) => {
                            conn.graceful_shutdown();
                            for mut body in open.drain(..) {
                                let _ = body.send_data(Bytes::new(), true);
                            }
                            // Drains: new streams are refused, the socket closes at the end.
                            while conn.accept().await.is_some() {}
                            return;
                        }
                    }
                } else {
                    conn.accept().await
                };
                let Some(Ok((req, mut respond))) = next else {
                    return;
                };
                let last = req
                    .headers()
                    .get("last-event-id")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                seen.lock()
                    .unwrap()
                    .requests
                    .push((n, req.uri().path().to_string(), last.clone()));
                let from = last.and_then(|l| l.parse().ok()).unwrap_or(0);
                let to = if n == 1 { FIRST } else { ALL };
                let head = http::Response::builder()
                    .header("content-type", "text/event-stream")
                    .body(())
                    .unwrap();
                let Ok(mut body) = respond.send_response(head, false) else {
                    return;
                };
                let _ = body.send_data(events(from, to), false);
                open.push(body);
            }
        });
    }
}

fn spec(server: SocketAddr, index: u32, transport: &Arc<Transport>) -> ClientSpec {
    ClientSpec {
        technique: Technique::Sse,
        server,
        host: server.to_string(),
        path_prefix: String::new(),
        topic: "re".into(),
        topic_index: 0,
        poll_interval: Duration::from_millis(20),
        long_poll_timeout: Duration::from_millis(300),
        connect_timeout: T,
        read_timeout: T,
        source_addr: None,
        since: 0,
        seed: 1,
        index,
        link: None,
        profile: Default::default(),
        faults: None,
        recovery: Default::default(),
        transport: Arc::clone(transport),
    }
}

#[tokio::test]
async fn a_dropped_connection_is_one_reconnect_and_every_stream_resumes() {
    let (s, seen) = ten_clients_across_a_connection_end(End::Drop).await;
    assert_eq!(s.requests, 2 * u64::from(CLIENTS), "{s:?}");
    // Each client saw its stream fail once.
    let errors: u64 = s.error_map().values().sum();
    assert_eq!(errors, u64::from(CLIENTS), "{:?}", s.error_map());
    assert_eq!(seen.requests.len(), 2 * CLIENTS as usize);
}

#[tokio::test]
async fn after_a_goaway_the_clients_move_to_one_new_connection() {
    let (s, seen) = ten_clients_across_a_connection_end(End::GoAway).await;
    // Each stream ended (an error each); a client that tried the draining connection before
    // it closed fails once more, and its request never reached the server.
    let errors: u64 = s.error_map().values().sum();
    assert!(
        (u64::from(CLIENTS)..=2 * u64::from(CLIENTS)).contains(&errors),
        "{:?}",
        s.error_map()
    );
    assert_eq!(seen.requests.len(), 2 * CLIENTS as usize);
}

/// Ten SSE clients (K = 10) across the end of their first connection: checks what both
/// endings share and returns the clients' counters and what the server saw.
async fn ten_clients_across_a_connection_end(end: End) -> (loadgen::stats::Snapshot, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let server = tokio::spawn(serve(listener, Arc::clone(&seen), end));
    let config = TransportConfig {
        http: HttpVersion::H2,
        streams_per_connection: CLIENTS,
        ..Default::default()
    };
    let transport = Arc::new(Transport::new(&config, None));
    let rec = Arc::new(Recorder::new(Technique::Sse, 1));
    rec.window.open(0, 1);
    rec.window.close(0, ALL);
    let stop = CancellationToken::new();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let s = spec(addr, i, &transport);
            tokio::spawn(run_client(s, Arc::clone(&rec), stop.clone()))
        })
        .collect();
    let all = u64::from(CLIENTS) * ALL;
    let start = Instant::now();
    while rec.snapshot().delivered < all && start.elapsed() < T {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.cancel();
    for c in clients {
        tokio::time::timeout(T, c).await.unwrap().unwrap();
    }
    server.abort();
    let s = rec.snapshot();
    assert_eq!(s.delivered, all, "{s:?}");
    assert_eq!((s.duplicates, s.out_of_order), (0, 0), "{s:?}");
    assert_eq!(s.reconnects, 1, "one connection ended: {s:?}");
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert_eq!(seen.connections, 2, "{seen:?}");
    let (first, again): (Vec<_>, Vec<_>) = seen.requests.iter().partition(|r| r.0 == 1);
    assert_eq!(first.len(), CLIENTS as usize);
    assert_eq!(again.len(), CLIENTS as usize);
    assert!(
        first.iter().all(|r| r.1 == "/sse/re" && r.2.is_none()),
        "{first:?}"
    );
    let resumed = Some(FIRST.to_string());
    assert!(
        again.iter().all(|r| r.0 == 2 && r.2 == resumed),
        "{again:?}"
    );
    (s, seen)
}
