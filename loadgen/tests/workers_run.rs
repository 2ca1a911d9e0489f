//! `pushbench run --processes 2 --server-processes 2` at small scale: the clients run in two
//! worker processes, the server in two SO_REUSEPORT processes; every technique loses nothing,
//! the merged client byte counts equal the (summed) server's, and a worker killed mid-run is
//! reported, not waited for.

mod run_common;

use std::time::{Duration, Instant};

use run_common::{TempDir, bin, run_json, technique, u};

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

/// The pids of `pid`'s children.
fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
                out.extend(s.split_whitespace().filter_map(|c| c.parse::<u32>().ok()));
            }
        }
    }
    out
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
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
    let mut child = cmd.spawn().unwrap();
    // Kill one worker once both are running.
    let start = Instant::now();
    let mut killed = false;
    while start.elapsed() < Duration::from_secs(20) && !killed {
        let workers: Vec<u32> = children(child.id())
            .into_iter()
            .filter(|p| cmdline(*p).contains(" worker"))
            .collect();
        if workers.len() == 2 {
            std::thread::sleep(Duration::from_millis(1500));
            let _ = std::process::Command::new("kill")
                .args(["-9", &workers[1].to_string()])
                .status();
            killed = true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(killed, "never saw two worker processes");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the run hangs after a worker died"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let o = child.wait_with_output().unwrap();
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
