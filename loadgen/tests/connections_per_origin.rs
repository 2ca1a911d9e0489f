//! `--connections-per-origin N`, end to end against the real server on 127.0.0.1:0: at most N
//! HTTP/1.1 connections per technique, as a browser's six per origin. Pollers share them
//! between requests and all get every message; event streams beyond the limit wait for a
//! place and get nothing while every place is held.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loadgen::clients::{ClientSpec, HttpConn, Transport, run_client};
use loadgen::config::TransportConfig;
use loadgen::payload::{self, Header};
use loadgen::stats::Recorder;
use loadgen::technique::Technique;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

const T: Duration = Duration::from_secs(5);

async fn start_server() -> (SocketAddr, CancellationToken) {
    let state = server::Shared::new(server::ServeArgs {
        listen: "127.0.0.1:0".parse().unwrap(),
        heartbeat: Duration::from_secs(600),
        ..Default::default()
    })
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(server::run(listener, state, stop.clone()));
    (addr, stop)
}

async fn publish(addr: SocketAddr, topic: &str, seq: u64) {
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
    let mut conn = HttpConn::new(TcpStream::connect(addr).await.unwrap());
    conn.send(req.as_bytes(), T).await.unwrap();
    let head = conn.read_head(T).await.unwrap();
    assert_eq!(head.status, 200);
}

fn spec(technique: Technique, server: SocketAddr, index: u32, t: &Arc<Transport>) -> ClientSpec {
    ClientSpec {
        technique,
        server,
        host: server.to_string(),
        path_prefix: String::new(),
        topic: format!("origin-{}", technique.name()),
        topic_index: 0,
        poll_interval: Duration::from_millis(50),
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
        transport: Arc::clone(t),
    }
}

fn limited(n: u32) -> Arc<Transport> {
    let cfg = TransportConfig {
        connections_per_origin: Some(n),
        ..TransportConfig::default()
    };
    Arc::new(Transport::new(&cfg, None))
}

/// Polls `cond` every 10 ms until it holds or `limit` passes, noting the most connections
/// the recorder saw open meanwhile.
async fn wait_until(limit: Duration, rec: &Recorder, most: &mut u64, cond: impl Fn() -> bool) {
    let start = Instant::now();
    loop {
        *most = (*most).max(rec.snapshot().connections);
        if start.elapsed() >= limit || cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn pollers_share_the_limit_s_connections_and_all_get_every_message() {
    let (addr, server) = start_server().await;
    for technique in [Technique::Poll, Technique::LongPoll] {
        const CLIENTS: u32 = 12;
        const MESSAGES: u64 = 5;
        let rec = Arc::new(Recorder::new(technique, 1));
        rec.window.open(0, 1);
        rec.window.close(0, MESSAGES);
        let transport = limited(2);
        let stop = CancellationToken::new();
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let s = spec(technique, addr, i, &transport);
                tokio::spawn(run_client(s, Arc::clone(&rec), stop.clone()))
            })
            .collect();
        let mut most = 0;
        let topic = format!("origin-{}", technique.name());
        for seq in 1..=MESSAGES {
            publish(addr, &topic, seq).await;
            wait_until(Duration::from_millis(30), &rec, &mut most, || false).await;
        }
        let want = u64::from(CLIENTS) * MESSAGES;
        wait_until(Duration::from_secs(10), &rec, &mut most, || {
            rec.snapshot().delivered >= want
        })
        .await;
        stop.cancel();
        for t in tasks {
            t.await.unwrap();
        }
        let s = rec.snapshot();
        assert_eq!((s.delivered, s.duplicates), (want, 0), "{technique}: {s:?}");
        assert!(
            (1..=2).contains(&most),
            "{technique}: {most} connections open at once"
        );
        assert_eq!(s.errors.iter().sum::<u64>(), 0, "{technique}: {s:?}");
    }
    server.cancel();
}

#[tokio::test]
async fn event_streams_beyond_the_limit_wait_for_a_place() {
    let (addr, server) = start_server().await;
    const CLIENTS: u32 = 10;
    const LIMIT: u32 = 4;
    const MESSAGES: u64 = 3;
    let rec = Arc::new(Recorder::new(Technique::Sse, 1));
    rec.window.open(0, 1);
    rec.window.close(0, MESSAGES);
    let transport = limited(LIMIT);
    let stop = CancellationToken::new();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let s = spec(Technique::Sse, addr, i, &transport);
            tokio::spawn(run_client(s, Arc::clone(&rec), stop.clone()))
        })
        .collect();
    let mut most = 0;
    wait_until(T, &rec, &mut most, || {
        rec.snapshot().connections >= u64::from(LIMIT)
    })
    .await;
    for seq in 1..=MESSAGES {
        publish(addr, "origin-sse", seq).await;
    }
    let want = u64::from(LIMIT) * MESSAGES;
    wait_until(T, &rec, &mut most, || rec.snapshot().delivered >= want).await;
    // Time for a client beyond the limit to get something, were it (wrongly) connected.
    wait_until(Duration::from_millis(300), &rec, &mut most, || false).await;
    let s = rec.snapshot();
    stop.cancel();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(s.delivered, want, "only the {LIMIT} placed clients: {s:?}");
    assert_eq!(most, u64::from(LIMIT), "connections open at once");
    assert_eq!(s.connections, u64::from(LIMIT));
    server.cancel();
}
