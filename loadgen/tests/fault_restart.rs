//! `pushbench run --fault restart-server=AT`: the child server is killed (SIGKILL) and started
//! again on the same address AT into each technique's window. The run completes; what was
//! published while it was down is lost, deliveries go on afterwards; the server's window
//! counters across the restart are unknown (null); every client is told of the gap (its cursor
//! is from the server's earlier life) and the loss is exact. With `--target` the fault is a usage error
//! (exit 2): the tool cannot restart a server it did not start.

mod fault_common;
mod run_common;

use std::time::Duration;

use fault_common::run_json as run_restart;
use run_common::*;

/// `(technique, old pid, new pid)` of each `... server restarted ... (pid A killed, pid B up
/// in N ms)` progress line in `stderr`.
fn restarts(stderr: &str) -> Vec<(String, u32, u32)> {
    stderr
        .split(['\n', '\r'])
        .filter(|l| l.contains("server restarted"))
        .map(|l| {
            let tech = l.trim().split(':').next().unwrap_or("").trim().to_string();
            let num = |after: &str| -> u32 {
                let rest = &l[l.find(after).unwrap_or_else(|| panic!("{l}")) + after.len()..];
                let n: String = rest.chars().take_while(char::is_ascii_digit).collect();
                n.parse().unwrap_or_else(|_| panic!("no pid in {l}"))
            };
            (tech, num("(pid "), num("killed, pid "))
        })
        .collect()
}

/// What holds of every technique measured across one restart.
fn check_technique(doc: &serde_json::Value, name: &str, stderr: &str) {
    let t = technique(doc, name);
    assert!(u(t, "delivered") > 0, "{name}: {t}\n{stderr}");
    // What was published while the server was down is lost (exactly: see below). How much
    // depends on where the kill falls between two publishes (a restart of a few ms may lose
    // nothing), so the accounting is asserted, not a count.
    // The server's counters start again from zero in the new process: unknown, not wrong.
    for k in [
        "server_requests",
        "server_bytes_down",
        "server_phase_requests",
    ] {
        assert_eq!(t[k], serde_json::Value::Null, "{name} {k}: {t}");
    }
    // CPU: the killed process's up to the kill plus the new one's since its start.
    let cpu = t["server_cpu_s"]
        .as_f64()
        .unwrap_or_else(|| panic!("{name}: server_cpu_s unknown: {t}"));
    assert!(cpu > 0.0 && cpu < 30.0, "{name}: {t}");
    // Every client came back with a cursor from the server's earlier life: the new server
    // told each one of the gap, and the technique recovered (no failure).
    let f = &t["fault"];
    assert_eq!(f["server_restarts"], 1, "{name}: {t}");
    assert!(
        u(f, "gaps") >= u(t, "clients"),
        "{name}: one gap notice per client: {t}"
    );
    assert_eq!(t["failure"], serde_json::Value::Null, "{name}: {t}");
    // Exact: every message is either delivered once or lost.
    assert_eq!(u(t, "delivered") + u(t, "lost"), u(t, "expected"), "{t}");
}

#[test]
fn a_restart_mid_window_is_survived_by_each_technique() {
    let (code, doc, stderr) = run_restart(
        "fault-restart",
        &[
            "--techniques",
            "sse,long-poll",
            "--clients",
            "10",
            "--rate",
            "20",
            "--duration",
            "6s",
            "--fault",
            "restart-server=2s",
        ],
    );
    let failed = doc["techniques"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| !t["failure"].is_null());
    assert!(!failed, "every technique recovers: {doc}");
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(doc["manifest"]["partial"], false, "{stderr}");
    let r = restarts(&stderr);
    let techs: Vec<&str> = r.iter().map(|(t, _, _)| t.as_str()).collect();
    assert_eq!(techs, ["sse", "long-poll"], "one restart each: {stderr}");
    for (_, old, new) in &r {
        assert_ne!(old, new, "{stderr}");
        let gone = !std::path::Path::new(&format!("/proc/{old}")).exists();
        assert!(gone, "the killed server {old} is gone");
    }
    // Each technique had its own fresh server: the second kill is of another process.
    assert_ne!(r[0].2, r[1].1, "{stderr}");
    for name in ["sse", "long-poll"] {
        check_technique(&doc, name, &stderr);
    }
}

#[test]
fn one_server_of_several_processes_is_restarted_whole() {
    let (code, doc, stderr) = run_restart(
        "fault-restart-cluster",
        &[
            "--techniques",
            "sse",
            "--one-server",
            "--server-processes",
            "2",
            "--clients",
            "6",
            "--rate",
            "20",
            "--duration",
            "4s",
            "--fault",
            "restart-server=1s",
        ],
    );
    assert_eq!(code, Some(0), "{stderr}");
    let r = restarts(&stderr);
    assert_eq!(r.len(), 1, "{stderr}");
    check_technique(&doc, "sse", &stderr);
    assert!(
        !std::path::Path::new(&format!("/proc/{}", r[0].1)).exists(),
        "the killed supervisor is gone"
    );
}

#[test]
fn a_death_of_the_restarted_server_still_stops_the_run() {
    use std::io::{BufRead, BufReader};
    let dir = TempDir::new("fault-restart-death");
    let out = dir.join("run");
    let mut child = spawn(&[
        "run",
        "--out",
        out.to_str().unwrap(),
        "--json",
        "--no-report",
        "--techniques",
        "sse",
        "--clients",
        "4",
        "--rate",
        "10",
        "--duration",
        "20s",
        "--fault",
        "restart-server=1s",
    ]);
    // Read stderr on a thread until the restart's line names the new process.
    let err = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if line.contains("server restarted") {
                let _ = tx.send(line.clone());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("no restart within 60 s");
    let new_pid = restarts(&line)[0].2;
    signal(&new_pid.to_string(), "KILL");
    let o = wait_exit(child, Duration::from_secs(60), "the run did not stop");
    let stderr = reader.join().unwrap();
    // Cut short (4), the death named: the kill the fault made was not one, this one is.
    assert_eq!(o.status.code(), Some(4), "{stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let failure = doc["manifest"]["failure"].as_str().unwrap_or_default();
    assert!(failure.contains("exited early"), "{failure}");
    assert!(failure.contains(&format!("pid {new_pid}")), "{failure}");
    assert_eq!(restarts(&stderr).len(), 1, "{stderr}");
}

#[test]
fn a_restart_is_refused_for_a_target_or_past_the_window() {
    for (args, says) in [
        (
            vec![
                "--target",
                "http://127.0.0.1:9",
                "--fault",
                "restart-server=1s",
            ],
            "the tool cannot restart a server it did not start",
        ),
        (
            vec!["--duration", "3s", "--fault", "restart-server=3s"],
            "must be before the window's end",
        ),
    ] {
        let mut all = vec!["run"];
        all.extend_from_slice(&args);
        let o = run(&all, Duration::from_secs(30));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains("--fault"), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        assert!(o.stdout.is_empty());
    }
}
