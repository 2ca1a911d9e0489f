//! End to end: the real server on 127.0.0.1:0 (in-process, through `server::run`), three
//! clients of a technique, twenty messages published over HTTP; every message must arrive
//! exactly once per client, and the clients' byte counts must equal the server's.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loadgen::clients::{ClientSpec, HttpConn, run_client};
use loadgen::payload::{self, Header};
use loadgen::stats::{Recorder, Snapshot};
use loadgen::technique::Technique;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

const CLIENTS: u64 = 3;
const MESSAGES: u64 = 20;
const T: Duration = Duration::from_secs(5);

struct Server {
    addr: SocketAddr,
    stop: CancellationToken,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn start_server() -> Server {
    start_server_with(server::ServeArgs {
        listen: "127.0.0.1:0".parse().unwrap(),
        // No heartbeat during a test: nothing may be in flight when the clients stop.
        heartbeat: Duration::from_secs(600),
        ..Default::default()
    })
    .await
}

/// Starts the server in-process with `args` on 127.0.0.1:0.
async fn start_server_with(args: server::ServeArgs) -> Server {
    let state = server::Shared::new(args).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(server::run(listener, state, stop.clone()));
    Server { addr, stop }
}

/// Publishes messages 1..=MESSAGES to `topic`, each payload padded to `size` bytes.
async fn publish_messages(addr: SocketAddr, topic: &str, size: usize) {
    for seq in 1..=MESSAGES {
        publish_seq(addr, topic, seq, size).await;
    }
}

/// Publishes message `seq` to `topic`, its payload padded to `size` bytes.
async fn publish_seq(addr: SocketAddr, topic: &str, seq: u64, size: usize) {
    let h = Header {
        topic: 0,
        seq,
        scheduled_us: payload::now_us(),
    };
    publish(addr, topic, &payload::encode(h, size)).await;
}

/// Runs one client of `technique` on `topic` (holding messages 1..=MESSAGES, the window)
/// from cursor `since` until it has `delivered` messages; then publishes a marker after the
/// window (MESSAGES + 1) and waits until the client has it. Every technique delivers a topic
/// in order, so whatever else the server would send this client before the marker (a replay,
/// say) has arrived by then and shows in the counts. Stops the client and returns its
/// counters (the marker counts in `received_total` only).
async fn one_client_from(
    technique: Technique,
    addr: SocketAddr,
    topic: &str,
    since: u64,
    delivered: u64,
) -> Snapshot {
    let rec = Arc::new(Recorder::new(technique, 1));
    rec.window.open(0, 1);
    rec.window.close(0, MESSAGES);
    let stop = CancellationToken::new();
    let mut s = spec(technique, addr);
    s.topic = topic.into();
    s.since = since;
    let client = tokio::spawn(run_client(s, Arc::clone(&rec), stop.clone()));
    let got = wait_until(T, || rec.snapshot().delivered >= delivered).await;
    assert!(got, "{technique}: {:?}", rec.snapshot());
    publish_seq(addr, topic, MESSAGES + 1, 32).await;
    let marker = wait_until(T, || {
        let s = rec.snapshot();
        // Only the marker lies outside the window.
        s.received_total > s.delivered + s.duplicates
    })
    .await;
    assert!(marker, "{technique}: no marker: {:?}", rec.snapshot());
    stop.cancel();
    client.await.unwrap();
    rec.snapshot()
}

fn spec(technique: Technique, server: SocketAddr) -> ClientSpec {
    ClientSpec {
        technique,
        server,
        host: server.to_string(),
        path_prefix: String::new(),
        topic: "e2e".into(),
        topic_index: 0,
        poll_interval: Duration::from_millis(20),
        // Short, so that a long poll in flight at shutdown is answered within the grace.
        long_poll_timeout: Duration::from_millis(300),
        connect_timeout: T,
        read_timeout: T,
        source_addr: None,
        since: 0,
        seed: 1,
        index: 0,
        link: None,
        profile: Default::default(),
        faults: None,
        recovery: Default::default(),
        transport: Default::default(),
    }
}

/// Sends `request` on a fresh connection and returns the status and body.
async fn exchange(addr: SocketAddr, request: &[u8]) -> (u16, Vec<u8>) {
    let mut conn = HttpConn::new(TcpStream::connect(addr).await.unwrap());
    conn.send(request, T).await.unwrap();
    let mut head = conn.read_head(T).await.unwrap();
    let body = conn.read_to_end(&mut head.body, T, 1 << 20).await.unwrap();
    (head.status, body)
}

async fn publish(addr: SocketAddr, topic: &str, body: &str) {
    let req = format!(
        "POST /publish/{topic} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (status, answer) = exchange(addr, req.as_bytes()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
}

async fn stats(addr: SocketAddr) -> serde_json::Value {
    let (status, body) = exchange(
        addr,
        b"GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200);
    serde_json::from_slice(&body).unwrap()
}

/// Polls `cond` every 10 ms until it holds or `limit` passes; returns whether it held (the
/// way these tests wait: on what they can observe, for a bounded time).
async fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}

async fn delivers_everything(technique: Technique) {
    let server = start_server().await;
    let rec = Arc::new(Recorder::new(technique, 1));
    let stop = CancellationToken::new();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let mut s = spec(technique, server.addr);
            // Spread over source addresses, as big runs do (client 0 lets the kernel pick).
            s.source_addr = (i > 0).then(|| std::net::IpAddr::from([127, 0, 0, 1 + i as u8]));
            s.index = i as u32;
            tokio::spawn(run_client(s, Arc::clone(&rec), stop.clone()))
        })
        .collect();
    assert!(
        wait_until(T, || rec.snapshot().connections == CLIENTS).await,
        "clients did not connect: {:?}",
        rec.snapshot()
    );
    rec.window.open(0, 1);
    publish_messages(server.addr, "e2e", 64).await;
    rec.window.close(0, MESSAGES);
    let all = CLIENTS * MESSAGES;
    wait_until(Duration::from_secs(10), || rec.snapshot().delivered >= all).await;
    stop.cancel();
    for c in clients {
        tokio::time::timeout(Duration::from_secs(5), c)
            .await
            .expect("a client outlived shutdown + grace")
            .unwrap();
    }
    let s = rec.snapshot();
    assert_eq!(s.delivered, all, "{technique}: {s:?}");
    assert_eq!((s.duplicates, s.out_of_order), (0, 0), "{technique}: {s:?}");
    assert!(s.error_map().is_empty(), "{technique}: {:?}", s.error_map());
    assert_eq!(s.connections, 0);
    assert_eq!(rec.latency().len(), all);
    assert_eq!(rec.first_message_times().len(), CLIENTS);
    assert!(rec.connect_times().len() >= CLIENTS);
    assert!(s.requests >= CLIENTS);

    // The server's counters settle once it has seen every connection close.
    let name = technique.name();
    let deadline = Instant::now() + T;
    let server_side = loop {
        let t = stats(server.addr).await["techniques"][name].clone();
        if t["connections"] == 0 || Instant::now() >= deadline {
            break t;
        }
        // The poll interval of this bounded wait on `/stats`.
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    eprintln!("{name}: clients {s:?}\n{name}: server {server_side}");
    assert_eq!(server_side["connections"], 0, "{name}: {server_side}");
    assert_eq!(
        server_side["bytes_read"], s.bytes_up,
        "{name} bytes up: {server_side}"
    );
    assert_eq!(
        server_side["bytes_written"], s.bytes_down,
        "{name} bytes down: {server_side}"
    );
    assert_eq!(
        server_side["requests"], s.requests,
        "{name} requests: {server_side}"
    );
    if technique == Technique::Poll || technique == Technique::LongPoll {
        assert_eq!(
            server_side["empty_responses"], s.empty_responses,
            "{name}: {server_side}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_delivers_everything() {
    delivers_everything(Technique::Poll).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_delivers_everything() {
    delivers_everything(Technique::LongPoll).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_delivers_everything() {
    delivers_everything(Technique::Stream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_delivers_everything() {
    delivers_everything(Technique::Sse).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_delivers_everything() {
    delivers_everything(Technique::Ws).await;
}

/// Resuming: a client that starts with `since` = 10 gets exactly messages 11..=20.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_technique_resumes_from_its_cursor() {
    let server = start_server().await;
    for technique in Technique::ALL {
        let topic = format!("resume-{technique}");
        publish_messages(server.addr, &topic, 32).await;
        // Anything extra (a replay of 1..=10) would show in the counts.
        let snap = one_client_from(technique, server.addr, &topic, 10, 10).await;
        assert_eq!(
            (snap.delivered, snap.received_total, snap.duplicates),
            (10, 10 + 1, 0),
            "{technique} (10 and the marker): {snap:?}"
        );
    }
}

/// A cursor older than what the server retains: every technique gets the server's gap notice
/// (not counted as a message, not an error) and then the retained messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_technique_takes_a_gap_in_stride() {
    let server = start_server_with(server::ServeArgs {
        listen: "127.0.0.1:0".parse().unwrap(),
        retention: 5,
        heartbeat: Duration::from_secs(600),
        ..Default::default()
    })
    .await;
    for technique in Technique::ALL {
        let topic = format!("gap-{technique}");
        publish_messages(server.addr, &topic, 32).await;
        let snap = one_client_from(technique, server.addr, &topic, 2, 5).await;
        assert_eq!(
            (snap.delivered, snap.received_total),
            (5, 5 + 1),
            "{technique} (16..=20 and the marker): {snap:?}"
        );
        assert!(
            snap.error_map().is_empty(),
            "{technique}: {:?}",
            snap.error_map()
        );
        let server_side = stats(server.addr).await["techniques"][technique.name()].clone();
        assert_eq!(server_side["gaps"], 1, "{technique}: {server_side}");
    }
}

/// Heartbeats (SSE comments, empty NDJSON lines, WebSocket pings) keep an idle subscription
/// alive past the read timeout, and the WebSocket client answers the pings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_keep_idle_subscribers_alive() {
    let server = start_server_with(server::ServeArgs {
        listen: "127.0.0.1:0".parse().unwrap(),
        heartbeat: Duration::from_millis(50),
        ..Default::default()
    })
    .await;
    for technique in [Technique::Stream, Technique::Sse, Technique::Ws] {
        let rec = Arc::new(Recorder::new(technique, 1));
        let stop = CancellationToken::new();
        let mut s = spec(technique, server.addr);
        s.read_timeout = Duration::from_secs(1);
        let client = tokio::spawn(run_client(s, Arc::clone(&rec), stop.clone()));
        assert!(wait_until(T, || rec.connect_times().len() == 1).await);
        let up_after_connect = rec.snapshot().bytes_up;
        let down_after_connect = rec.snapshot().bytes_down;
        // Idle for longer than the read timeout (1 s), which is the scenario: only the
        // heartbeats keep the connection alive. Waits until that long has passed and the
        // heartbeats (for WebSocket the pongs too) were seen on the client's socket.
        let idle_until = Instant::now() + Duration::from_millis(1500);
        let seen = wait_until(T, || {
            let s = rec.snapshot();
            Instant::now() >= idle_until
                && s.bytes_down > down_after_connect
                && (technique != Technique::Ws || s.bytes_up > up_after_connect + 6 * 10)
        })
        .await;
        stop.cancel();
        client.await.unwrap();
        let snap = rec.snapshot();
        assert!(seen, "{technique}: no heartbeat went through: {snap:?}");
        assert!(
            snap.error_map().is_empty(),
            "{technique}: {:?}",
            snap.error_map()
        );
        assert_eq!(
            (snap.requests, snap.reconnects),
            (1, 0),
            "{technique}: {snap:?}"
        );
        assert!(
            snap.bytes_down > down_after_connect,
            "{technique}: no heartbeat arrived"
        );
        if technique == Technique::Ws {
            // Pongs (and the close frame) went up.
            assert!(
                snap.bytes_up > up_after_connect + 6 * 10,
                "{technique}: pings not answered: {snap:?}"
            );
        }
    }
}
