//! `pushbench run --mode request` end to end against its real child server (docs/REQUEST.md):
//! every technique at low load meets its schedule (TTFT near the first delay, gaps near the
//! interval, nothing lost); a stalled server shows in lateness but not in TTFT; the open
//! model runs; bad input is one line and exit 2.

mod run_common;

use std::time::Duration;

use run_common::{TempDir, run, run_json, signal, spawn, technique, u, wait_exit, wait_for_path};
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(60);

/// Runs measuring times one at a time: two runs sharing the cores would shift the figures
/// the tests hold to a few milliseconds.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `pushbench run --mode request ARGS --json` into a fresh directory.
fn request_run(dir: &TempDir, args: &[&str]) -> Value {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let out = dir.join("run");
    let mut all = vec![
        "run",
        "--mode",
        "request",
        "--warmup",
        "0s",
        "--drain",
        "1s",
        "--pause",
        "0s",
        "--no-report",
        "--json",
        "--out",
        out.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    run_json(&all, LIMIT)
}

fn field(t: &Value, path: &[&str]) -> u64 {
    let mut v = t;
    for k in path {
        v = &v[*k];
    }
    v.as_u64()
        .unwrap_or_else(|| panic!("{path:?} is not a count in {t}"))
}

#[test]
fn every_technique_at_low_load_meets_its_schedule() {
    let dir = TempDir::new("req-low");
    let doc = request_run(
        &dir,
        &[
            "--techniques",
            "poll,long-poll,stream,sse,ws",
            "--concurrency",
            "4",
            "--events",
            "20",
            "--first-delay",
            "50ms",
            "--interval",
            "20ms",
            "--duration",
            "1s",
            "--check",
            "sse.ttft_p99 < 500ms",
            "--check",
            "long-poll.itl_p50 < 100ms",
        ],
    );
    let checks = doc["checks"].as_array().expect("checks");
    assert_eq!(checks.len(), 2, "{checks:?}");
    assert_eq!(
        technique(&doc, "poll")["skipped"],
        "short poll has no request-scoped stream"
    );
    for name in ["long-poll", "stream", "sse", "ws"] {
        let t = technique(&doc, name);
        let q = &t["request"];
        let ttft = field(t, &["ttft_us", "p50"]);
        let itl = field(t, &["itl_us", "p50"]);
        assert!(ttft.abs_diff(50_000) <= 5_000, "{name}: TTFT p50 {ttft} µs");
        assert!(itl.abs_diff(20_000) <= 1_000, "{name}: ITL p50 {itl} µs");
        assert!(u(q, "requests_started") >= 4, "{name}: {q}");
        assert_eq!(u(q, "requests_failed"), 0, "{name}: {t}");
        assert_eq!(u(q, "requests_completed"), u(q, "requests_started"));
        assert_eq!(u(t, "expected"), 20 * u(q, "requests_started"), "{name}");
        assert_eq!(u(t, "delivered"), u(t, "expected"), "{name}: {t}");
        assert_eq!(u(t, "lost"), 0, "{name}");
        assert_eq!((u(t, "duplicates"), u(t, "out_of_order")), (0, 0), "{name}");
        // Lateness is the broadcast latency's place; e2e covers the whole schedule.
        assert_eq!(t["latency_us"], q["lateness_us"], "{name}");
        assert!(
            field(t, &["request", "e2e_us", "p50"]) >= 430_000,
            "{name}: {q}"
        );
        assert_eq!(q["model"], "closed");
        assert_eq!(u(q, "concurrency"), 4);
        assert!(t["server_cpu_s"].is_number(), "{name}: {t}");
        assert!(u(t, "bytes_down") > 0 && u(t, "requests") > 0, "{name}");
        for kind in ["ttft", "itl", "e2e"] {
            let p = dir.join(&format!("run/histograms/{name}.{kind}.hlog"));
            assert!(p.is_file(), "{} missing", p.display());
        }
    }
    let params = &doc["manifest"]["params"];
    assert_eq!(params["mode"], "request");
    assert_eq!(params["request"]["events"], 20);
    assert_eq!(params["request"]["arrival"]["closed"]["concurrency"], 4);
}

#[test]
fn a_stalled_server_is_late_but_its_first_event_is_not() {
    let dir = TempDir::new("req-stall");
    let doc = request_run(
        &dir,
        &[
            "--techniques",
            "sse",
            "--concurrency",
            "2",
            "--events",
            "10",
            "--first-delay",
            "30ms",
            "--interval",
            "10ms",
            "--duration",
            "1s",
            "--stall-at",
            "5",
            "--stall-ms",
            "200",
        ],
    );
    let t = technique(&doc, "sse");
    assert!(
        field(t, &["request", "lateness_us", "p99"]) >= 190_000,
        "{t}"
    );
    assert!(field(t, &["latency_us", "max"]) >= 190_000, "{t}");
    let ttft = field(t, &["ttft_us", "p50"]);
    assert!(ttft.abs_diff(30_000) <= 5_000, "TTFT p50 {ttft} µs");
    assert_eq!(u(t, "lost"), 0, "{t}");
}

#[test]
fn the_open_model_runs_and_completes() {
    let dir = TempDir::new("req-open");
    let doc = request_run(
        &dir,
        &[
            "--techniques",
            "stream,ws",
            "--arrival-rate",
            "40",
            "--events",
            "5",
            "--interval",
            "5ms",
            "--interval-distribution",
            "exponential",
            "--duration",
            "1s",
        ],
    );
    for name in ["stream", "ws"] {
        let t = technique(&doc, name);
        let q = &t["request"];
        assert_eq!(q["model"], "open");
        assert_eq!(q["arrival_rate"], 40.0);
        assert_eq!(q["distribution"], "exponential");
        // ~40 arrivals in the second: Poisson, so only loosely.
        let started = u(q, "requests_started");
        assert!((15..=80).contains(&started), "{name}: {started} started");
        assert_eq!(u(q, "requests_completed"), started, "{name}: {q}");
        assert_eq!(u(t, "lost"), 0, "{name}");
        assert!(u(q, "open_streams_max") >= 1, "{name}: {q}");
    }
}

#[test]
fn bad_request_options_are_one_line_and_exit_2() {
    let cases: [(&[&str], &str); 7] = [
        (&["--concurrency", "0"], "--concurrency"),
        (
            &["--concurrency", "2", "--arrival-rate", "3"],
            "--concurrency",
        ),
        (&["--arrival-rate", "0"], "--arrival-rate"),
        (
            &["--interval-distribution", "bogus"],
            "--interval-distribution",
        ),
        (&["--clients", "5"], "--clients"),
        (&["--mode", "sideways"], "--mode"),
        (&["--events", "0"], "--events"),
    ];
    for (args, flag) in cases {
        let mut all = vec!["run"];
        if !args.contains(&"--mode") {
            all.extend(["--mode", "request"]);
        }
        all.extend_from_slice(args);
        let out = run(&all, Duration::from_secs(10));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(flag), "{args:?}: {err}");
    }
    // Request-mode flags need request mode; --profile openai needs it and a --target.
    for (args, flag) in [
        (&["run", "--concurrency", "3"][..], "--concurrency"),
        (
            &["run", "--mode", "request", "--profile", "openai"][..],
            "--profile",
        ),
        (&["run", "--profile", "openai"][..], "--profile"),
    ] {
        let out = run(args, Duration::from_secs(10));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(flag), "{args:?}: {err}");
    }
}

#[test]
fn ctrl_c_cuts_the_streams_and_writes_a_partial_run() {
    let dir = TempDir::new("req-int");
    let out = dir.join("run");
    let child = spawn(&[
        "run",
        "--mode",
        "request",
        "--techniques",
        "sse",
        "--concurrency",
        "3",
        "--events",
        "1000",
        "--interval",
        "10ms",
        "--warmup",
        "0s",
        "--duration",
        "20s",
        "--no-report",
        "--out",
        out.to_str().unwrap(),
    ]);
    wait_for_path(&out.join("manifest.json"), Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(1500));
    signal(&child.id().to_string(), "INT");
    let o = wait_exit(
        child,
        Duration::from_secs(15),
        "pushbench did not stop on SIGINT",
    );
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let doc: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(doc["manifest"]["partial"], true);
    let t = technique(&doc, "sse");
    // The three streams in flight were cut: failed, not lost from the accounts.
    assert!(u(&t["request"], "requests_failed") >= 1, "{t}");
    assert!(u(t, "delivered") > 0, "{t}");
}
