//! Memory per idle client (a benchmark, not run by default): starts `pushbench serve` as a
//! child process, opens N idle clients of one technique in this process, and prints how much
//! this process's resident memory (VmRSS) grew per client. Then publishes a few 256-byte
//! messages at 1/s (`PB_MEM_PUBLISH`, default 5) and checks every client got every one.
//!
//! ```sh
//! PB_MEM_TECHNIQUE=sse PB_MEM_CLIENTS=10000 \
//!   cargo test --release -p loadgen --test clients_memory -- --ignored --nocapture
//! ```

mod run_common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loadgen::clients::{ClientSpec, run_client};
use loadgen::payload;
use loadgen::stats::Recorder;
use loadgen::technique::Technique;
use run_common::{ServeChild, env_or, wait_until};
use tokio_util::sync::CancellationToken;

fn rss_kib() -> u64 {
    server::procinfo::own_usage().expect("/proc/self").rss_bytes / 1024
}

/// Publishes one payload to topic `idle` (blocking, one connection).
fn publish(addr: SocketAddr, body: &str) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /publish/idle HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
#[ignore = "a benchmark: opens thousands of connections; run it by hand"]
fn memory_per_idle_client() {
    let technique: Technique = std::env::var("PB_MEM_TECHNIQUE")
        .unwrap_or_else(|_| "sse".into())
        .parse()
        .unwrap();
    let n: u64 = env_or("PB_MEM_CLIENTS", 10_000);
    let child = ServeChild::start(&[
        "--heartbeat",
        "60s",
        "--long-poll-timeout",
        "120s",
        "--max-connections",
        "19000",
    ]);
    let addr = child.addr;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let rec = Arc::new(Recorder::new(technique, 1));
    let stop = CancellationToken::new();
    let spec = ClientSpec {
        technique,
        server: addr,
        host: addr.to_string(),
        path_prefix: String::new(),
        topic: "idle".into(),
        topic_index: 0,
        // Short pollers poll every second (`PB_MEM_POLL_MS`) so that they see the messages.
        poll_interval: Duration::from_millis(env_or("PB_MEM_POLL_MS", 1000)),
        long_poll_timeout: Duration::from_secs(120),
        connect_timeout: Duration::from_secs(10),
        read_timeout: Duration::from_secs(120),
        source_addr: None,
        since: 0,
        seed: 1,
        index: 0,
        link: None,
        profile: Default::default(),
        faults: None,
        recovery: Default::default(),
        transport: Default::default(),
    };
    let before = rss_kib();
    let start = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let spec = ClientSpec {
                index: i as u32,
                ..spec.clone()
            };
            rt.spawn(run_client(spec, Arc::clone(&rec), stop.clone()))
        })
        .collect();
    // Every client connected, sent its request and (but a long poll, which is held) was
    // answered (head or upgrade).
    let ready = || {
        let s = rec.snapshot();
        s.connections >= n
            && s.requests >= n
            && (technique == Technique::LongPoll || rec.connect_times().len() >= n)
    };
    wait_until(Duration::from_secs(120), ready);
    // A measurement, not a wait for an event: buffers freed after the handshakes reach the
    // allocator's bookkeeping a moment later; nothing below depends on how long this took.
    std::thread::sleep(Duration::from_secs(2));
    let after = rss_kib();
    let s = rec.snapshot();
    println!(
        "{technique}: {n} idle clients ({} connected, {} requests, errors {:?}) in {:.1?}: \
         RSS {before} KiB -> {after} KiB, {:.2} KiB per client",
        s.connections,
        s.requests,
        s.error_map(),
        start.elapsed(),
        (after - before) as f64 / n as f64
    );
    assert_eq!(s.connections, n, "not every client connected");

    // Then a few messages at 1/s to all of them: nothing may be lost.
    let messages: u64 = env_or("PB_MEM_PUBLISH", 5);
    rec.window.open(0, 1);
    for seq in 1..=messages {
        let h = payload::Header {
            topic: 0,
            seq,
            scheduled_us: payload::now_us(),
        };
        publish(addr, &payload::encode(h, 256));
        if seq < messages {
            // The scenario: messages at 1/s.
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    rec.window.close(0, messages);
    let expected = n * messages;
    wait_until(Duration::from_secs(30), || {
        rec.snapshot().delivered >= expected
    });
    let s = rec.snapshot();
    let lat = rec.latency();
    println!(
        "{technique}: {messages} messages at 1/s to {n} clients: delivered {} of {expected}, \
         duplicates {}, errors {:?}, latency p50 {} µs, p99 {} µs, max {} µs",
        s.delivered,
        s.duplicates,
        s.error_map(),
        lat.value_at_quantile(0.5),
        lat.value_at_quantile(0.99),
        lat.max()
    );
    assert_eq!(s.delivered, expected);
    stop.cancel();
    rt.block_on(async {
        for t in tasks {
            let _ = t.await;
        }
    });
    drop(child);
}
