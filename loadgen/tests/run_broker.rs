//! `pushbench run --broker redis|nats`: the run starts a real broker before its child server
//! (`--server-processes 2`: two instances sharing topics over it), measures the broker apart
//! from the server (`broker` in each technique's summary), copies the server's final view of
//! it, and stops it at the end. `--fault restart-broker=AT` stops and starts the broker in
//! the window: the run goes on and the loss is exact. With `--target` the flag is a usage
//! error. Skipped (with a line saying so) where the broker is not installed.

mod fault_common;
mod run_common;

use fault_common::run_json;
use run_common::*;
use server::broker::Kind;
use server::broker::process::BrokerProcess;

/// Whether `kind`'s broker is installed; prints the SKIPPED line when it is not.
fn installed(kind: Kind, test: &str) -> bool {
    if BrokerProcess::available(kind) {
        return true;
    }
    println!("SKIPPED {test}: {} is not installed", kind.program().0);
    false
}

const SMALL: &[&str] = &[
    "--techniques",
    "sse,ws",
    "--clients",
    "20",
    "--rate",
    "10",
    "--warmup",
    "500ms",
    "--drain",
    "3s",
    "--pause",
    "0s",
    "--server-processes",
    "2",
];

fn f(v: &serde_json::Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number: {v}"))
}

/// A small run over `kind`: every message delivered, the broker's figures sane.
fn small_run(kind: &str) {
    let mut args = SMALL.to_vec();
    args.extend(["--duration", "3s", "--broker", kind]);
    let (code, doc, stderr) = run_json(&format!("broker-{kind}"), &args);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        doc["manifest"]["params"]["broker"], kind,
        "{}",
        doc["manifest"]
    );
    let cmd = doc["manifest"]["server_command"].to_string();
    assert!(cmd.contains("--broker") && cmd.contains("pb-"), "{cmd}");
    for name in ["sse", "ws"] {
        let t = technique(&doc, name);
        assert!(u(t, "expected") > 0, "{name}: {t}");
        assert_eq!(u(t, "delivered"), u(t, "expected"), "{name}: {t}\n{stderr}");
        assert_eq!(u(t, "lost"), 0, "{name}: {t}");
        let b = &t["broker"];
        assert_eq!(b["kind"], kind, "{name}: {b}");
        // /proc counts CPU in 10 ms ticks: a light broker may read 0 over a short window.
        assert!(f(b, "cpu_s") >= 0.0, "{name}: {b}");
        let per_million = f(b, "cpu_s") * 1e6 / u(t, "delivered") as f64;
        let got = f(b, "cpu_s_per_million_deliveries");
        assert!(
            (got - per_million).abs() <= 1e-3,
            "{name}: {got} vs {per_million}: {b}"
        );
        assert!(u(b, "rss_peak_bytes") > 1 << 20, "{name}: {b}");
        assert!(f(b, "in_msgs_per_s") > 0.0, "{name}: {b}");
        assert!(f(b, "messages_per_s") > 0.0, "{name}: {b}");
        assert_eq!(u(b, "restarts"), 0, "{name}: {b}");
        let s = &b["status"];
        assert_eq!(s["connected"], true, "{name}: the server's view: {s}");
        assert_eq!(s["kind"], kind, "{name}: {s}");
        assert_eq!(u(s, "processes"), 2, "{name}: {s}");
    }
}

#[test]
fn a_small_run_over_redis_delivers_everything_and_measures_the_broker() {
    if installed(Kind::Redis, "run --broker redis") {
        small_run("redis");
    }
}

#[test]
fn a_small_run_over_nats_delivers_everything_and_measures_the_broker() {
    if installed(Kind::Nats, "run --broker nats") {
        small_run("nats");
    }
}

/// `(old pid, new pid)` of each `broker ... restarted ... (pid A stopped, pid B up ...)` line.
fn broker_restarts(stderr: &str) -> Vec<(u32, u32)> {
    let num = |l: &str, after: &str| -> u32 {
        let rest = &l[l.find(after).unwrap_or_else(|| panic!("{l}")) + after.len()..];
        let n: String = rest.chars().take_while(char::is_ascii_digit).collect();
        n.parse().unwrap_or_else(|_| panic!("no pid in {l}"))
    };
    stderr
        .split(['\n', '\r'])
        .filter(|l| l.contains("broker redis restarted"))
        .map(|l| (num(l, "(pid "), num(l, "stopped, pid ")))
        .collect()
}

#[test]
fn a_broker_restart_mid_window_is_survived_and_counted() {
    if !installed(Kind::Redis, "run --broker redis --fault restart-broker") {
        return;
    }
    let mut args = SMALL.to_vec();
    args.extend([
        "--duration",
        "4s",
        "--broker",
        "redis",
        "--fault",
        "restart-broker=1s",
    ]);
    // run_json kills the run after a bounded time: nothing may hang.
    let (code, doc, stderr) = run_json("broker-restart", &args);
    // As for the other faults: the run is whole and every technique recovered.
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(doc["manifest"]["partial"], false, "{stderr}");
    let r = broker_restarts(&stderr);
    assert_eq!(r.len(), 2, "one restart per technique: {stderr}");
    for (old, new) in &r {
        assert_ne!(old, new, "{stderr}");
    }
    for name in ["sse", "ws"] {
        let t = technique(&doc, name);
        assert!(u(t, "expected") > 0, "{name}: {t}");
        assert_eq!(
            u(t, "delivered") + u(t, "lost"),
            u(t, "expected"),
            "{name}: exact accounting: {t}"
        );
        let b = &t["broker"];
        assert_eq!(u(b, "restarts"), 1, "{name}: {b}");
        assert!(f(b, "cpu_s") >= 0.0, "{name}: CPU across the restart: {b}");
        assert!(
            u(&b["status"], "disconnects") >= 1,
            "{name}: the instances saw the broker go: {b}"
        );
    }
    // The broker never outlives the run.
    for (_, new) in r {
        assert!(
            wait_until(std::time::Duration::from_secs(10), || gone(new)),
            "broker {new} still runs after the run"
        );
    }
}

#[test]
fn broker_with_target_is_a_usage_error() {
    let o = run(
        &[
            "run",
            "--broker",
            "redis",
            "--target",
            "http://127.0.0.1:1",
            "--duration",
            "1s",
        ],
        std::time::Duration::from_secs(30),
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.contains("--broker") && stderr.contains("pushbench serve --broker URL"),
        "{stderr}"
    );
}

#[test]
fn ctrl_c_stops_the_broker_with_the_run() {
    if !installed(Kind::Redis, "run --broker redis, Ctrl-C") {
        return;
    }
    use std::time::Duration;
    let dir = TempDir::new("broker-ctrl-c");
    let out = dir.join("run");
    let child = spawn(&[
        "run",
        "--out",
        out.to_str().unwrap(),
        "--no-report",
        "--techniques",
        "sse",
        "--clients",
        "5",
        "--rate",
        "5",
        "--duration",
        "60s",
        "--broker",
        "redis",
    ]);
    let pid = child.id();
    let broker = || {
        descendants(pid)
            .into_iter()
            .find(|&p| cmdline(p).contains("redis-server"))
    };
    assert!(
        wait_until(Duration::from_secs(30), || broker().is_some()
            && server_child(pid).is_some()),
        "no broker and server under the run"
    );
    let b = broker().unwrap();
    // The server of the run uses the broker: it is not among the server's descendants.
    let (server, _) = server_child(pid).unwrap();
    assert!(
        !descendants(server).contains(&b),
        "the broker is not the server's"
    );
    signal(&pid.to_string(), "INT");
    let o = wait_exit(
        child,
        Duration::from_secs(60),
        "the run did not stop on SIGINT",
    );
    assert_eq!(
        o.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        wait_until(Duration::from_secs(10), || gone(b)),
        "broker {b} outlived the run"
    );
}
