//! Memory per idle client (a benchmark, not run by default): starts `pushbench serve` as a
//! child process, opens N idle clients of one technique in this process, and prints how much
//! this process's resident memory (VmRSS) grew per client.
//!
//! ```sh
//! PB_MEM_TECHNIQUE=sse PB_MEM_CLIENTS=10000 \
//!   cargo test --release -p loadgen --test clients_memory -- --ignored --nocapture
//! ```

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use loadgen::clients::{ClientSpec, run_client};
use loadgen::stats::Recorder;
use loadgen::technique::Technique;
use tokio_util::sync::CancellationToken;

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
#[ignore = "a benchmark: opens thousands of connections; run it by hand"]
fn memory_per_idle_client() {
    let technique: Technique = std::env::var("PB_MEM_TECHNIQUE")
        .unwrap_or_else(|_| "sse".into())
        .parse()
        .unwrap();
    let n: u64 = env_or("PB_MEM_CLIENTS", 10_000);
    let mut child = Command::new(env!("CARGO_BIN_EXE_pushbench"))
        .args(["serve", "--listen", "127.0.0.1:0", "--heartbeat", "60s"])
        .args(["--long-poll-timeout", "120s", "--max-connections", "19000"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap()
        .parse()
        .unwrap();

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
        // Idle short-pollers still poll; once a minute keeps them parked between polls.
        poll_interval: Duration::from_secs(60),
        long_poll_timeout: Duration::from_secs(120),
        connect_timeout: Duration::from_secs(10),
        read_timeout: Duration::from_secs(120),
        source_addr: None,
        since: 0,
    };
    let before = rss_kib();
    let start = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|_| rt.spawn(run_client(spec.clone(), Arc::clone(&rec), stop.clone())))
        .collect();
    // Every client connected, sent its request and (but a long poll, which is held) was
    // answered (head or upgrade).
    let ready = || {
        let s = rec.snapshot();
        s.connections >= n
            && s.requests >= n
            && (technique == Technique::LongPoll || rec.connect_times().len() >= n)
    };
    while !ready() && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(100));
    }
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
    stop.cancel();
    rt.block_on(async {
        for t in tasks {
            let _ = t.await;
        }
    });
    let _ = child.kill();
    let _ = child.wait();
}
