//! `pushbench run --link` end to end, with the real binary and its real child server on a
//! free loopback port: each technique's median latency over `rtt=200ms` is the value its
//! protocol predicts, a 64 KiB payload over `down=1mbit` takes its serialization time, and a
//! run split over worker processes carries the link in each of them. The runs are at 1-2
//! messages/s with a few dozen clients, so the bounds hold on a busy 2-core machine.

mod run_common;

use std::time::Duration;

use run_common::{TempDir, run_json, technique, u};
use serde_json::Value;

const RTT_MS: f64 = 200.0;
/// The runs' short-poll interval.
const POLL_INTERVAL_MS: f64 = 1000.0;
/// Clients per technique, started at this many per second: one poll interval of ramp-up.
const CLIENTS: &str = "40";

/// `pushbench run --json` of `techniques` with `extra` options, short windows, 1 msg/s.
fn run_link(dir: &TempDir, name: &str, extra: &[&str]) -> Value {
    let out = dir.join(name);
    let mut args = vec![
        "run",
        "--out",
        out.to_str().unwrap(),
        "--warmup",
        "1s",
        "--duration",
        "3s",
        "--drain",
        "2s",
        "--pause",
        "50ms",
        "--one-server",
        "--no-report",
        "--json",
    ];
    args.extend_from_slice(extra);
    run_json(&args, Duration::from_secs(120))
}

/// The median the issue allows: the expected value within 10% plus 5 ms.
fn assert_near(tech: &str, p50_us: u64, expected_ms: f64) {
    let got = p50_us as f64 / 1000.0;
    let slack = expected_ms * 0.10 + 5.0;
    eprintln!("{tech}: p50 {got:.1} ms, expected {expected_ms:.1} ± {slack:.1} ms");
    assert!(
        (got - expected_ms).abs() <= slack,
        "{tech}: p50 {got:.1} ms, expected {expected_ms:.1} ± {slack:.1} ms"
    );
}

/// Every technique over `rtt=200ms` at 1 msg/s, publisher direct, each technique's median
/// latency checked against its protocol:
///
/// - stream, SSE, WebSocket: a message crosses the link once, server to client: RTT/2.
/// - long poll: the request is parked at the server when a message comes (the message
///   interval, 1 s, is longer than the RTT the re-arm costs), so the answer too crosses once:
///   RTT/2.
/// - short poll (clients/poll.rs): requests go on a fixed grid, every `poll_interval` from the
///   client's start (`setInterval`). A request sent at `t` reaches the server at `t + RTT/2`
///   and its answer, holding every message published before then, arrives at `t + RTT`. So a
///   message waits at the server from its publication to the next request's arrival, uniform
///   over `[0, interval)` when the clients' grids are spread evenly over the interval, plus
///   RTT/2 down: median `interval/2 + RTT/2`. The spread is the ramp-up: 40 clients at 40/s
///   start 25 ms apart (each jittered within its 25 ms), one interval in all. (Every client's
///   wait is the same for each of its messages, since the 1 s message interval is a whole
///   number of poll intervals: the median is the 20th of 40 evenly spread waits, ≈ 490 ms,
///   within the bound.)
///
/// The five techniques run as five processes at once (each with its own server and emulator)
/// to keep the test's wall time to one technique's.
#[test]
fn each_technique_over_rtt_200ms_has_the_latency_its_protocol_predicts() {
    let dir = TempDir::new("link-rtt");
    let expected = [
        ("poll", POLL_INTERVAL_MS / 2.0 + RTT_MS / 2.0),
        ("long-poll", RTT_MS / 2.0),
        ("stream", RTT_MS / 2.0),
        ("sse", RTT_MS / 2.0),
        ("ws", RTT_MS / 2.0),
    ];
    let docs: Vec<(&str, f64, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = expected
            .iter()
            .map(|&(tech, want)| {
                let dir = &dir;
                s.spawn(move || {
                    let doc = run_link(
                        dir,
                        tech,
                        &[
                            "--techniques",
                            tech,
                            "--link",
                            "rtt=200ms",
                            "--rate",
                            "1",
                            "--clients",
                            CLIENTS,
                            "--ramp-up",
                            CLIENTS,
                            "--poll-interval",
                            "1s",
                        ],
                    );
                    (tech, want, doc)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (tech, want, doc) in &docs {
        assert_eq!(doc["manifest"]["params"]["link"], "rtt=200ms");
        assert_eq!(doc["manifest"]["params"]["publisher_link"], "none");
        let t = technique(doc, tech);
        assert_eq!(u(t, "delivered"), u(t, "expected"), "{tech}: {t}");
        assert!(u(t, "expected") >= 80, "{tech}: {t}");
        assert_near(tech, t["latency_us"]["p50"].as_u64().unwrap(), *want);
        let link = &t["link"];
        assert_eq!(link["spec"], "rtt=200ms");
        assert_eq!(u(link, "rtt_us"), 200_000);
        assert!(link["down_bits_per_s"].is_null(), "{link}");
        assert!(u(link, "connects") >= 40, "{tech}: {link}");
        // The link carried at least what the clients counted at their sockets.
        assert!(
            u(link, "bytes_down") >= u(t, "bytes_down"),
            "{tech}: {link}"
        );
        assert!(t["publisher_link"].is_null(), "publisher direct: {t}");
        assert_eq!(u(&t["link_emulator"], "processes"), 1);
        assert_eq!(u(&t["link_emulator"], "threads"), 1);
    }
}

/// A 64 KiB payload over `down=1mbit` takes its serialization time: 65,536 × 8 bits at
/// 1,000,000 bit/s = 0.524 s (plus the SSE framing, ~60 bytes). One message a second, so no
/// message waits behind the one before. The link's figures land in summary.json.
#[test]
fn a_64_kib_payload_over_1_mbit_takes_its_serialization_time() {
    let dir = TempDir::new("link-bw");
    let doc = run_link(
        &dir,
        "bw",
        &[
            "--techniques",
            "sse",
            "--link",
            "down=1mbit",
            "--payload-bytes",
            "65536",
            "--rate",
            "1",
            "--clients",
            "1",
        ],
    );
    let t = technique(&doc, "sse");
    assert_eq!(u(t, "delivered"), u(t, "expected"), "{t}");
    let p50 = t["latency_us"]["p50"].as_u64().unwrap();
    let serialization_us = 65_536 * 8;
    assert!(p50 >= serialization_us, "p50 {p50} µs, sooner than 524 ms");
    assert!(
        p50 <= serialization_us + 150_000,
        "p50 {p50} µs: far past 524 ms"
    );
    let link = &t["link"];
    assert_eq!(link["spec"], "rtt=0,down=1mbit", "the canonical form");
    assert_eq!(u(link, "down_bits_per_s"), 1_000_000);
    assert!(link["up_bits_per_s"].is_null());
    assert!(
        u(link, "bytes_down") >= 65_536 * u(t, "delivered"),
        "{link}"
    );
    let emu = &t["link_emulator"];
    assert!(emu["cpu_s"].as_f64().is_some(), "{emu}");
    assert!(emu["cpu_us_per_message"].as_f64().is_some(), "{emu}");
}

/// The publisher on its own link: each publish crosses it once, client to server, so
/// subscribers connected directly see its one-way delay (RTT/2 = 50 ms).
#[test]
fn the_publisher_link_delays_what_it_publishes() {
    let dir = TempDir::new("link-pub");
    let doc = run_link(
        &dir,
        "pub",
        &[
            "--techniques",
            "ws",
            "--publisher-link",
            "rtt=100ms",
            "--rate",
            "2",
            "--clients",
            "5",
        ],
    );
    assert_eq!(doc["manifest"]["params"]["publisher_link"], "rtt=100ms");
    let t = technique(&doc, "ws");
    assert_eq!(u(t, "delivered"), u(t, "expected"), "{t}");
    assert_near("ws", t["latency_us"]["p50"].as_u64().unwrap(), 50.0);
    assert!(t["link"].is_null(), "subscribers direct: {t}");
    let p = &t["publisher_link"];
    assert_eq!(p["spec"], "rtt=100ms");
    assert!(u(p, "connects") >= 1 && u(p, "bytes_up") > 0, "{p}");
}

/// `--processes 2`: each worker process starts its own emulator and carries its clients
/// through it; everything is delivered and the latency is the link's one-way delay.
#[test]
fn worker_processes_carry_the_link_too() {
    let dir = TempDir::new("link-procs");
    let doc = run_link(
        &dir,
        "procs",
        &[
            "--techniques",
            "sse,long-poll",
            "--link",
            "rtt=100ms",
            "--processes",
            "2",
            "--rate",
            "2",
            "--clients",
            "10",
        ],
    );
    for tech in ["sse", "long-poll"] {
        let t = technique(&doc, tech);
        assert_eq!(u(t, "delivered"), u(t, "expected"), "{tech}: {t}");
        assert!(u(t, "expected") >= 50, "{tech}: {t}");
        assert_near(tech, t["latency_us"]["p50"].as_u64().unwrap(), 50.0);
        assert_eq!(u(&t["link_emulator"], "processes"), 2, "{tech}: {t}");
        assert!(u(&t["link"], "connects") >= 10, "{tech}: {t}");
    }
}
