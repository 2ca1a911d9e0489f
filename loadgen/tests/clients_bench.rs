//! Short-poll throughput of the poll client against `wrk` (a benchmark, not run by default):
//! `pushbench serve` as a child process, C poll clients with `poll_interval` 0 (closed loop) on
//! one runtime thread for D seconds, then `wrk -t1 -cC -dD` on the same URL; prints requests
//! per second of both and the ratio.
//!
//! ```sh
//! PB_BENCH_CONNECTIONS=64 PB_BENCH_SECONDS=5 \
//!   cargo test --release -p loadgen --test clients_bench -- --ignored --nocapture
//! ```

mod run_common;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loadgen::clients::{ClientSpec, run_client};
use loadgen::stats::Recorder;
use loadgen::technique::Technique;
use run_common::{ServeChild, env_or, wait_until};
use tokio_util::sync::CancellationToken;

#[test]
#[ignore = "a benchmark: saturates the machine for seconds; run it by hand"]
fn poll_throughput_against_wrk() {
    let connections: u64 = env_or("PB_BENCH_CONNECTIONS", 64);
    let seconds: u64 = env_or("PB_BENCH_SECONDS", 5);
    let child = ServeChild::start(&[]);
    let addr = child.addr;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let rec = Arc::new(Recorder::new(Technique::Poll, 1));
    let stop = CancellationToken::new();
    let spec = ClientSpec {
        technique: Technique::Poll,
        server: addr,
        host: addr.to_string(),
        path_prefix: String::new(),
        topic: "bench".into(),
        topic_index: 0,
        poll_interval: Duration::ZERO,
        long_poll_timeout: Duration::from_secs(30),
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(5),
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
    let tasks: Vec<_> = (0..connections)
        .map(|i| {
            let spec = ClientSpec {
                index: i as u32,
                ..spec.clone()
            };
            rt.spawn(run_client(spec, Arc::clone(&rec), stop.clone()))
        })
        .collect();
    let connected = wait_until(Duration::from_secs(30), || {
        rec.snapshot().connections == connections
    });
    assert!(
        connected,
        "not every client connected: {:?}",
        rec.snapshot()
    );
    let (r0, t0) = (rec.snapshot().requests, Instant::now());
    // The measurement: requests counted over D seconds.
    std::thread::sleep(Duration::from_secs(seconds));
    let ours = (rec.snapshot().requests - r0) as f64 / t0.elapsed().as_secs_f64();
    stop.cancel();
    rt.block_on(async {
        for t in tasks {
            let _ = t.await;
        }
    });
    let errors = rec.snapshot().error_map();

    let url = format!("http://{addr}/poll/bench?since=0");
    let wrk = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            &url,
        ])
        .output();
    let theirs = wrk.ok().and_then(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("Requests/sec:"))
            .and_then(|v| v.trim().parse::<f64>().ok())
    });
    drop(child);
    match theirs {
        Some(w) => println!(
            "poll, {connections} connections, {seconds} s, one thread each: pushbench {ours:.0} req/s, \
             wrk {w:.0} req/s, ratio {:.2} (errors {errors:?})",
            ours / w
        ),
        None => println!(
            "poll, {connections} connections: pushbench {ours:.0} req/s (wrk not found) (errors {errors:?})"
        ),
    }
    assert!(errors.is_empty(), "{errors:?}");
}
