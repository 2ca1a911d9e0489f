//! `pushbench run --target URL --server-pid PID`: the server's CPU and memory sampled from
//! /proc over the process tree rooted at PID, for a target without `/stats` (the nchan-like
//! in-test server); without it they stay null ("not measured"); a PID that does not exist, or
//! `--server-pid` without `--target`, is a usage error (exit 2).

mod peer_common;
mod run_common;

use std::time::Duration;

use run_common::*;

/// A short SSE run against `url` with the nchan profile, into `out`, plus `extra`.
fn nchan_run(out: &str, url: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "run",
        "--out",
        out,
        "--target",
        url,
        "--profile",
        "nchan",
        "--techniques",
        "sse",
        "--clients",
        "4",
        "--rate",
        "10",
        "--warmup",
        "500ms",
        "--duration",
        "2s",
        "--drain",
        "1s",
        "--no-report",
        "--json",
    ];
    args.extend_from_slice(extra);
    run_json(&args, Duration::from_secs(120))
}

/// Resident memory of `pid` alone, from /proc/PID/status.
fn vm_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[test]
fn a_server_pid_is_sampled_over_its_process_tree() {
    let addr = peer_common::start_nchan_like();
    let url = format!("http://{addr}");
    // A real process tree to sample: a supervisor and its two worker processes. (The nchan-like
    // server runs inside this test process, which is also the run's parent: its own tree
    // would count the run too.)
    let server = ServeChild::start(&["--processes", "2"]);
    let dir = TempDir::new("server-pid");

    let out = dir.join("without");
    let doc = nchan_run(out.to_str().unwrap(), &url, &[]);
    let sse = technique(&doc, "sse");
    assert_eq!(sse["server_cpu_s"], serde_json::Value::Null, "{sse}");
    assert_eq!(sse["server_rss_bytes"], serde_json::Value::Null, "{sse}");
    assert_eq!(
        doc["manifest"]["params"]["server_pid"],
        serde_json::Value::Null
    );

    let out = dir.join("with");
    let pid = server.pid().to_string();
    let doc = nchan_run(out.to_str().unwrap(), &url, &["--server-pid", &pid]);
    assert_eq!(doc["manifest"]["params"]["server_pid"], server.pid());
    let sse = technique(&doc, "sse");
    assert_eq!(u(sse, "delivered"), u(sse, "expected"), "{sse}");
    let cpu = sse["server_cpu_s"]
        .as_f64()
        .unwrap_or_else(|| panic!("{sse}"));
    assert!((0.0..10.0).contains(&cpu), "{sse}");
    let rss = u(sse, "server_rss_bytes");
    let root = vm_rss(server.pid());
    // The workers' memory is counted too: more than the supervisor's own, and not absurd.
    assert!(rss > root, "tree {rss} B, supervisor alone {root} B");
    assert!(rss < 1 << 30, "{rss} B");
    let rows = std::fs::read_to_string(out.join("timeseries.csv")).unwrap();
    assert!(rows.lines().count() > 1, "{rows}");
}

/// `pushbench sweep` passes `--server-pid` to each step.
#[test]
fn a_sweep_samples_the_server_pid_at_each_step() {
    let addr = peer_common::start_nchan_like();
    let url = format!("http://{addr}");
    let server = ServeChild::start(&[]);
    let pid = server.pid().to_string();
    let dir = TempDir::new("server-pid-sweep");
    let out = dir.join("sweep");
    let args = [
        "sweep",
        "--out",
        out.to_str().unwrap(),
        "--target",
        &url,
        "--profile",
        "nchan",
        "--server-pid",
        &pid,
        "--techniques",
        "sse",
        "--clients",
        "2,4",
        "--warmup",
        "300ms",
        "--duration",
        "1s",
        "--drain",
        "500ms",
        "--no-report",
    ];
    let o = run(&args, Duration::from_secs(120));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for step in ["sse-2", "sse-4"] {
        let text = std::fs::read_to_string(out.join(step).join("summary.json")).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["manifest"]["params"]["server_pid"], server.pid());
        let sse = technique(&doc, "sse");
        assert!(u(sse, "server_rss_bytes") > 0, "{step}: {sse}");
    }
}

#[test]
fn a_server_pid_that_does_not_exist_is_a_usage_error() {
    let dir = TempDir::new("server-pid-bad");
    let out = dir.join("run");
    let out = out.to_str().unwrap();
    // Beyond pid_max (at most 2^22): no such process.
    let no_such = [
        "run",
        "--out",
        out,
        "--target",
        "http://127.0.0.1:9",
        "--server-pid",
        "99999999",
    ];
    let o = run(&no_such, Duration::from_secs(30));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("--server-pid: no process 99999999"), "{err}");
    assert!(!std::path::Path::new(out).exists(), "nothing started");

    let no_target = ["run", "--out", out, "--server-pid", "1"];
    let o = run(&no_target, Duration::from_secs(30));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--server-pid: needs --target"), "{err}");
}
