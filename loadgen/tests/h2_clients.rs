//! End to end over HTTP/2: the real server (in-process, h2c with prior knowledge on its one
//! port) and the load generator's HTTP/2 clients (`--http 2`), K logical clients on one
//! connection (`--streams-per-connection K`). Every technique's clients must get every
//! message, in order, without an error, and their byte counts must equal the server's; 100
//! SSE clients with K = 100 must open exactly one TCP connection. Over TLS (`serve --tls`,
//! ALPN h2) the same, TLS records counted alike on both sides.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loadgen::clients::{ClientSpec, HttpConn, Transport, run_client};
use loadgen::config::{HttpVersion, TransportConfig};
use loadgen::net::tls::TlsClient;
use loadgen::payload::{self, Header};
use loadgen::stats::{Recorder, Snapshot};
use loadgen::technique::Technique;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

const MESSAGES: u64 = 20;
const T: Duration = Duration::from_secs(10);
/// A TLS 1.3 close_notify alert record: 5 bytes of header, the alert (2), its content type
/// (1) and the AEAD tag (16).
const CLOSE_NOTIFY: u64 = 24;

struct Server {
    addr: SocketAddr,
    stop: CancellationToken,
    /// The client side of the server's TLS (None: cleartext, h2c).
    tls: Option<TlsClient>,
    /// Whether its HTTP/2 stream limit is below the clients' K (`--h2-max-streams`).
    limited: bool,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The server in-process on 127.0.0.1:0, h2c and HTTP/1.1 on its port, or with `tls` only
/// TLS (a self-signed certificate, which the clients accept with `--insecure`).
async fn start_server(tls: bool) -> Server {
    start_server_with(server::ServeArgs {
        tls,
        ..Default::default()
    })
    .await
}

/// The server with `args` (its address and heartbeat the tests').
async fn start_server_with(args: server::ServeArgs) -> Server {
    let args = server::ServeArgs {
        listen: "127.0.0.1:0".parse().unwrap(),
        // No heartbeat during a test: nothing may be in flight when the clients stop.
        heartbeat: Duration::from_secs(600),
        ..args
    };
    let tls = args.tls;
    let limited = args.h2_max_streams < 100;
    let state = server::Shared::new(args).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(server::run(listener, state, stop.clone()));
    let tls = TlsClient::new(&transport_config(tls, 1), &addr.to_string()).unwrap();
    Server {
        addr,
        stop,
        tls,
        limited,
    }
}

fn transport_config(tls: bool, k: u32) -> TransportConfig {
    TransportConfig {
        http: HttpVersion::H2,
        tls,
        insecure: tls,
        streams_per_connection: k,
        ..Default::default()
    }
}

/// The HTTP/2 transport of one group, K clients a connection.
fn h2_transport(server: &Server, k: u32) -> Arc<Transport> {
    let config = transport_config(server.tls.is_some(), k);
    Arc::new(Transport::new(&config, server.tls.clone()))
}

fn spec(technique: Technique, server: SocketAddr, topic: &str, index: u32) -> ClientSpec {
    ClientSpec {
        technique,
        server,
        host: server.to_string(),
        path_prefix: String::new(),
        topic: topic.into(),
        topic_index: 0,
        poll_interval: Duration::from_millis(20),
        // Short, so that a long poll in flight at shutdown is answered within the grace.
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
        transport: Arc::default(),
    }
}

/// Sends `request` (HTTP/1.1, under TLS if the server has it) on a fresh connection and
/// returns the status and body.
async fn exchange(server: &Server, request: &[u8]) -> (u16, Vec<u8>) {
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    match &server.tls {
        None => exchange_on(HttpConn::new(tcp), request).await,
        Some(tls) => {
            let s = tls.connect(tcp, HttpVersion::H1, T).await.unwrap();
            exchange_on(HttpConn::new(s), request).await
        }
    }
}

async fn exchange_on<S>(mut conn: HttpConn<S>, request: &[u8]) -> (u16, Vec<u8>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    conn.send(request, T).await.unwrap();
    let mut head = conn.read_head(T).await.unwrap();
    let body = conn.read_to_end(&mut head.body, T, 1 << 20).await.unwrap();
    (head.status, body)
}

/// Publishes messages 1..=MESSAGES to `topic`.
async fn publish_messages(server: &Server, topic: &str) {
    for seq in 1..=MESSAGES {
        let h = Header {
            topic: 0,
            seq,
            scheduled_us: payload::now_us(),
        };
        let body = payload::encode(h, 64);
        let req = format!(
            "POST /publish/{topic} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let (status, answer) = exchange(server, req.as_bytes()).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    }
}

async fn stats(server: &Server) -> serde_json::Value {
    let req = b"GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let (status, body) = exchange(server, req).await;
    assert_eq!(status, 200);
    serde_json::from_slice(&body).unwrap()
}

/// Polls `cond` every 10 ms until it holds or `limit` passes; returns whether it held.
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

/// The server's `/stats` once `done` holds of it (or after [`T`]).
async fn stats_once(
    server: &Server,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + T;
    loop {
        let st = stats(server).await;
        if done(&st) || Instant::now() >= deadline {
            return st;
        }
        // The poll interval of this bounded wait on `/stats`.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// What a group of HTTP/2 clients saw, and the server's view of the technique.
struct Outcome {
    clients: Snapshot,
    server: serde_json::Value,
}

/// Runs `n` clients of `technique` over HTTP/2 with K = `k`, publishes MESSAGES messages,
/// stops the clients once all have everything, and checks what every technique must show:
/// every message to every client, in order, no error, `n / k` connections (rounded up), and
/// the server agreeing on bytes and requests once the connections closed.
async fn over_h2(technique: Technique, n: u32, k: u32, server: Server) -> Outcome {
    let tls = server.tls.is_some();
    let limited = server.limited;
    let topic = format!("h2-{}-{k}", technique.name());
    let rec = Arc::new(Recorder::new(technique, 1));
    let transport = h2_transport(&server, k);
    let stop = CancellationToken::new();
    let clients: Vec<_> = (0..n)
        .map(|i| {
            let mut s = spec(technique, server.addr, &topic, i);
            s.transport = Arc::clone(&transport);
            tokio::spawn(run_client(s, Arc::clone(&rec), stop.clone()))
        })
        .collect();
    let connections = u64::from(n.div_ceil(k));
    // Every client has its first answer (its request is in) before anything is published.
    assert!(
        wait_until(T, || {
            rec.connect_times().len() >= u64::from(n) && rec.snapshot().connections == connections
        })
        .await,
        "{technique}: clients did not connect: {:?}",
        rec.snapshot()
    );
    rec.window.open(0, 1);
    publish_messages(&server, &topic).await;
    rec.window.close(0, MESSAGES);
    let all = u64::from(n) * MESSAGES;
    wait_until(T, || rec.snapshot().delivered >= all).await;
    let open = rec.snapshot().connections;
    stop.cancel();
    for c in clients {
        tokio::time::timeout(T, c)
            .await
            .expect("a client outlived shutdown + grace")
            .unwrap();
    }
    // The clients are gone: their connections close (the group's transport still lives).
    assert!(
        wait_until(T, || rec.snapshot().connections == 0).await,
        "{technique} K={k}: {:?}",
        rec.snapshot()
    );
    drop(transport);
    let s = rec.snapshot();
    assert_eq!(s.delivered, all, "{technique} K={k}: {s:?}");
    assert_eq!((s.duplicates, s.out_of_order), (0, 0), "{technique}: {s:?}");
    assert!(s.error_map().is_empty(), "{technique}: {:?}", s.error_map());
    assert_eq!(open, connections, "{technique} K={k}: connections");
    assert_eq!(s.reconnects, 0, "{technique} K={k}: {s:?}");
    assert_eq!(rec.latency().len(), all);
    assert_eq!(rec.first_message_times().len(), u64::from(n));
    assert!(s.requests >= u64::from(n));

    let name = technique.name();
    let st = stats_once(&server, |st| st["techniques"][name]["connections"] == 0).await;
    let t = st["techniques"][name].clone();
    eprintln!("{name} K={k}: clients {s:?}\n{name} K={k}: server {t}");
    assert_eq!(t["connections"], 0, "{name}: {t}");
    // A request queued for a stream (beyond the server's stream limit) when its client is
    // dropped at shutdown counts as sent here and never reaches the server.
    let queued = if limited { u64::from(n) } else { 0 };
    let requests = t["requests"].as_u64().unwrap();
    assert!(
        requests <= s.requests && s.requests <= requests + queued,
        "{name} requests: {} by the clients, {t}",
        s.requests
    );
    // Under TLS the client's close_notify, sent as it closes, may reach a server that has
    // already closed (it answered the client's GOAWAY): never read there, so not counted.
    let unread = if tls { CLOSE_NOTIFY } else { 0 };
    let read = t["bytes_read"].as_u64().unwrap();
    assert!(
        read == s.bytes_up || read + unread == s.bytes_up,
        "{name} bytes up: {} by the clients, {t}",
        s.bytes_up
    );
    assert_eq!(t["bytes_written"], s.bytes_down, "{name} bytes down: {t}");
    let protocol = if tls { "h2_tls" } else { "h2" };
    assert_eq!(st["protocols"][protocol]["total"], connections, "{st}");
    Outcome {
        clients: s,
        server: st,
    }
}

async fn every_technique(k: u32, tls: bool) {
    for technique in [
        Technique::Poll,
        Technique::LongPoll,
        Technique::Stream,
        Technique::Sse,
    ] {
        let o = over_h2(technique, 10, k, start_server(tls).await).await;
        if technique == Technique::Poll || technique == Technique::LongPoll {
            let t = &o.server["techniques"][technique.name()];
            assert_eq!(t["empty_responses"], o.clients.empty_responses, "{t}");
        } else {
            // One request a client: nothing failed, nothing reopened.
            assert_eq!(o.clients.requests, 10);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_technique_over_h2_one_client_a_connection() {
    every_technique(1, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_technique_over_h2_ten_clients_a_connection() {
    every_technique(10, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_technique_over_h2_on_tls_ten_clients_a_connection() {
    every_technique(10, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_sse_clients_share_one_connection() {
    let o = over_h2(Technique::Sse, 100, 100, start_server(false).await).await;
    assert_eq!(o.clients.requests, 100);
    assert_eq!(o.server["protocols"]["h2"]["total"], 1);
    assert_eq!(o.server["techniques"]["sse"]["delivered"], 100 * MESSAGES);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_the_servers_stream_limit_wait_their_turn() {
    // Ten long pollers on one connection that allows two streams at once: the others queue
    // (a browser's requests do), and every message still reaches every client.
    let server = start_server_with(server::ServeArgs {
        h2_max_streams: 2,
        ..Default::default()
    })
    .await;
    let o = over_h2(Technique::LongPoll, 10, 10, server).await;
    assert_eq!(o.server["protocols"]["h2"]["total"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_ends_resets_its_stream_and_frees_its_subscriber() {
    let server = start_server(false).await;
    let rec = Arc::new(Recorder::new(Technique::Sse, 1));
    let transport = h2_transport(&server, 10);
    // Ten clients on one connection, each on a topic of its own, which lives only as long as
    // its subscriber; each client with its own stop.
    let clients: Vec<_> = (0..10)
        .map(|i| {
            let mut s = spec(Technique::Sse, server.addr, &format!("alone-{i}"), i);
            s.transport = Arc::clone(&transport);
            let stop = CancellationToken::new();
            let task = tokio::spawn(run_client(s, Arc::clone(&rec), stop.clone()));
            (stop, task)
        })
        .collect();
    let st = stats_once(&server, |st| st["topics"] == 10).await;
    assert_eq!(st["topics"], 10, "{st}");
    let (gone, staying) = clients.split_at(4);
    for (stop, _) in gone {
        stop.cancel();
    }
    let st = stats_once(&server, |st| st["topics"] == 6).await;
    assert_eq!(
        st["topics"], 6,
        "four streams reset, their topics gone: {st}"
    );
    assert_eq!(
        st["protocols"]["h2"]["open"], 1,
        "the connection stays: {st}"
    );
    assert_eq!(rec.snapshot().connections, 1);
    for (stop, _) in staying {
        stop.cancel();
    }
    let st = stats_once(&server, |st| st["topics"] == 0).await;
    assert_eq!(st["topics"], 0, "{st}");
    for (_, task) in clients {
        tokio::time::timeout(T, task).await.unwrap().unwrap();
    }
    let s = rec.snapshot();
    assert!(s.error_map().is_empty(), "{:?}", s.error_map());
    assert_eq!((s.requests, s.reconnects), (10, 0), "{s:?}");
}
