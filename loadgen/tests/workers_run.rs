//! `pushbench run --processes 2 --server-processes 2` at small scale: the clients run in two
//! worker processes, the server in two SO_REUSEPORT processes; every technique loses nothing,
//! the merged client byte counts equal the (summed) server's, and a worker killed mid-run is
//! reported, not waited for.

mod run_common;

use std::time::Duration;

use run_common::{
    TempDir, bin, children, cmdline, run_json, signal, technique, technique_figure, u, wait_exit,
    wait_for_server_stats,
};

const QUICK: &[&str] = &[
    "--clients",
    "8",
    "--rate",
    "10",
    "--warmup",
    "500ms",
    "--drain",
    "1s",
    "--poll-interval",
    "500ms",
    "--long-poll-timeout",
    "2s",
    "--pause",
    "100ms",
    "--no-report",
    "--json",
];

fn run_quick(tag: &str, extra: &[&str]) -> (serde_json::Value, String) {
    let tmp = TempDir::new(tag);
    let out = tmp.join("run");
    let mut args = vec!["run", "--duration", "2s", "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.extend_from_slice(QUICK);
    let doc = run_json(&args, Duration::from_secs(150));
    let ts = std::fs::read_to_string(out.join("timeseries.csv")).unwrap();
    (doc, ts)
}

/// Every technique delivers everything; returns each technique's entry.
fn check_lossless(doc: &serde_json::Value) -> Vec<(&'static str, &serde_json::Value)> {
    let mut out = Vec::new();
    for name in ["poll", "long-poll", "stream", "sse", "ws"] {
        let t = technique(doc, name);
        assert_eq!(u(t, "clients"), 8, "{name}: {t}");
        assert!(u(t, "expected") >= 8 * 15, "{name}: {t}");
        assert_eq!(u(t, "delivered"), u(t, "expected"), "{name}: {t}");
        assert_eq!(u(t, "lost"), 0, "{name}");
        assert_eq!(u(&t["latency_us"], "count"), u(t, "delivered"), "{name}");
        assert!(t["failure"].is_null(), "{name}: {t}");
        assert!(t["server_rss_bytes"].as_u64().unwrap() > 0);
        out.push((name, t));
    }
    out
}

#[test]
fn two_workers_lose_nothing_and_bytes_agree() {
    let (doc, ts) = run_quick("workers", &["--processes", "2"]);
    assert_eq!(doc["manifest"]["loadgen_processes"], 2);
    for (name, t) in check_lossless(&doc) {
        // The two workers' byte counts, merged, equal the server's exactly.
        for (c, s) in [
            ("phase_bytes_down", "server_phase_bytes_down"),
            ("phase_bytes_up", "server_phase_bytes_up"),
            ("phase_requests", "server_phase_requests"),
        ] {
            assert_eq!(u(t, c), u(t, s), "{name} {c}: {t}");
        }
    }
    // Per-second rows still come (summed from the workers' ticks).
    let steady_with_deliveries = ts
        .lines()
        .filter(|l| l.contains(",sse,steady,"))
        .filter(|l| {
            l.split(',')
                .nth(4)
                .is_some_and(|v| v.parse::<f64>().unwrap_or(0.0) > 0.0)
        })
        .count();
    assert!(steady_with_deliveries >= 1, "{ts}");
}

#[test]
fn two_workers_and_two_server_processes_lose_nothing() {
    let (doc, _) = run_quick(
        "workers-srv",
        &["--processes", "2", "--server-processes", "2"],
    );
    assert_eq!(doc["manifest"]["loadgen_processes"], 2);
    assert_eq!(doc["manifest"]["server_processes"], 2);
    for (name, t) in check_lossless(&doc) {
        // The server's figures are summed over its processes; they equal the two workers'
        // merged client counts exactly, for every technique.
        for (c, s) in [
            ("phase_bytes_down", "server_phase_bytes_down"),
            ("phase_bytes_up", "server_phase_bytes_up"),
            ("phase_requests", "server_phase_requests"),
        ] {
            assert_eq!(u(t, c), u(t, s), "{name} {c}: {t}");
        }
    }
}

#[test]
fn a_dead_worker_is_reported() {
    let tmp = TempDir::new("workers-dead");
    let out = tmp.join("run");
    let mut cmd = std::process::Command::new(bin());
    cmd.args(["run", "--processes", "2", "--techniques", "sse", "--out"])
        .arg(&out)
        .args(QUICK)
        .args(["--duration", "4s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap();
    // Kill one worker once every client is connected and the window has begun (at 10 msg/s
    // the 500 ms warm-up publishes 5 messages; the 8th is in the window), as the server's
    // `/stats` shows: the dead worker's clients then miss messages of the window.
    wait_for_server_stats(
        child.id(),
        Duration::from_secs(30),
        "8 sse clients connected and the window begun",
        |s| technique_figure(s, "sse", "connections") == 8 && s["published"].as_u64() >= Some(8),
    );
    // In the order they were started: worker 0, worker 1.
    let workers: Vec<u32> = children(child.id())
        .into_iter()
        .filter(|p| cmdline(*p).contains(" worker"))
        .collect();
    assert_eq!(workers.len(), 2, "two worker processes: {workers:?}");
    signal(&workers[1].to_string(), "KILL");
    let o = wait_exit(
        child,
        Duration::from_secs(60),
        "the run hangs after a worker died",
    );
    assert_eq!(
        o.status.code(),
        Some(3),
        "a technique with a lost worker failed"
    );
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!("no JSON ({e}): {}", String::from_utf8_lossy(&o.stderr));
    });
    let t = technique(&doc, "sse");
    let failure = t["failure"].as_str().unwrap_or_default();
    assert!(failure.contains("worker 1"), "{t}");
    // The dead worker's clients' messages count as lost, not as delivered.
    assert!(u(t, "lost") > 0, "{t}");
    assert_eq!(u(t, "clients"), 4, "{t}");
}

#[test]
fn a_worker_command_starts_each_worker() {
    // The command is what would be `ssh -T host{i} pushbench worker`; here it is local, and
    // each worker leaves a file named by its index to show `{i}` was replaced.
    let tmp = TempDir::new("workers-cmd");
    let cmd = format!(
        "touch {}/started-{{i}} && exec {} worker",
        tmp.0.display(),
        bin()
    );
    let out = tmp.join("run");
    let mut args = vec![
        "run",
        "--processes",
        "2",
        "--worker-command",
        &cmd,
        "--techniques",
        "sse",
        "--duration",
        "1s",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(QUICK);
    let doc = run_json(&args, Duration::from_secs(60));
    let t = technique(&doc, "sse");
    assert_eq!(u(t, "delivered"), u(t, "expected"), "{t}");
    assert!(u(t, "expected") >= 8 * 5, "{t}");
    assert!(tmp.join("started-0").exists() && tmp.join("started-1").exists());
    assert!(
        doc["manifest"]["clock"]
            .as_str()
            .unwrap()
            .contains("synchronized")
    );
}
