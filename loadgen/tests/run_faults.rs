//! Faults and bad input: Ctrl-C writes a partial run and exits non-zero; an unreachable or
//! silent `--target` is a clear error within the connect timeout; nonsense options name the
//! flag at fault.

mod run_common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use run_common::{TempDir, run, signal, spawn, technique_figure, wait_exit, wait_for_server_stats};

/// Messages the server must have accepted before a test interrupts the first technique of a
/// run with the default rate (10/s) and a 500 ms warm-up: the warm-up publishes the first 5,
/// so by the 8th the steady-state window has begun and holds published messages.
const INTO_THE_WINDOW: u64 = 8;

/// The exit code and stderr of `pushbench ARGS`.
fn stderr_of(args: &[&str]) -> (Option<i32>, String) {
    let out = run(args, Duration::from_secs(30));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_flags_name_the_flag() {
    for (args, flag) in [
        (&["run", "--clients", "0"][..], "--clients"),
        (&["run", "--rate", "0"][..], "--rate"),
        (&["run", "--source-addrs", "10.1.2.3"][..], "--source-addrs"),
        (&["run", "--duration", "0s"][..], "--duration"),
        (
            &["run", "--poll-interval", "5s", "--drain", "1s"][..],
            "--drain",
        ),
        (&["run", "--topics", "9", "--clients", "3"][..], "--topics"),
        (&["run", "--clients", "50000"][..], "--clients"),
        (
            &["run", "--techniques", "carrier-pigeon"][..],
            "--techniques",
        ),
        (&["run", "--warmup", "soon"][..], "--warmup"),
    ] {
        let (code, err) = stderr_of(args);
        assert_eq!(code, Some(2), "{args:?} is a usage error: {err}");
        assert!(
            err.contains(flag),
            "{args:?}: message does not name {flag}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn scenario_with_unknown_key_names_it() {
    let dir = TempDir::new("scn");
    let p = dir.join("bad.toml");
    std::fs::write(&p, "clients = 3\nwarmpu = \"1s\"\n").unwrap();
    let (code, err) = stderr_of(&["run", "--scenario", p.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("warmpu") && err.contains("--scenario"),
        "{err}"
    );
}

#[test]
fn unreachable_target_is_a_clear_error_within_the_connect_timeout() {
    // A port nobody listens on.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let t = Instant::now();
    let (code, err) = stderr_of(&["run", "--target", &url, "--connect-timeout", "1s"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("unreachable") && err.contains(&port.to_string()),
        "{err}"
    );
    assert!(t.elapsed() < Duration::from_secs(10));

    // A listener that accepts (in the kernel) but never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let t = Instant::now();
    let (code, err) = stderr_of(&["run", "--target", &url, "--connect-timeout", "1s"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("timed out"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    drop(silent);
}

#[test]
fn ctrl_c_writes_a_partial_run_and_exits_non_zero() {
    let dir = TempDir::new("sigint");
    let out = dir.join("run");
    let child = spawn(&[
        "run",
        "--out",
        out.to_str().unwrap(),
        "--clients",
        "3",
        "--warmup",
        "500ms",
        "--duration",
        "30s",
        "--no-report",
        "--json",
    ]);
    // Interrupt once the first technique's clients are connected and its steady state holds
    // published messages, as its server's `/stats` shows.
    wait_for_server_stats(
        child.id(),
        Duration::from_secs(30),
        "3 poll clients connected and the window begun",
        |s| {
            technique_figure(s, "poll", "connections") == 3
                && s["published"].as_u64() >= Some(INTO_THE_WINDOW)
        },
    );
    signal(&child.id().to_string(), "INT");
    let output = wait_exit(
        child,
        Duration::from_secs(20),
        "pushbench did not stop within 20 s of SIGINT",
    );
    assert_eq!(output.status.code(), Some(4), "a cut-short run exits 4");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["partial"], true);
    assert!(m["failure"].as_str().unwrap().contains("SIGINT"), "{m}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let techs = doc["techniques"].as_array().unwrap();
    assert_eq!(techs.len(), 1, "only the first technique had started");
    let t = &techs[0];
    assert_eq!(t["technique"], "poll");
    // What was measured is kept: the window was cut to what had been published.
    assert!(t["published"].as_u64().unwrap() > 0, "{t}");
    assert!(t["duration_s"].as_f64().unwrap() < 30.0);
    // stdout still carries the (partial) JSON document.
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed["manifest"]["partial"], true);
}

#[test]
fn the_server_dying_mid_run_ends_the_run_with_the_failure_recorded() {
    let dir = TempDir::new("death");
    let out = dir.join("run");
    let child = spawn(&[
        "run",
        "--out",
        out.to_str().unwrap(),
        "--clients",
        "3",
        "--warmup",
        "500ms",
        "--duration",
        "30s",
        "--no-report",
        "--json",
    ]);
    // Kill the child server once the first technique is measuring (clients connected,
    // messages published).
    let (server_pid, _) = wait_for_server_stats(
        child.id(),
        Duration::from_secs(30),
        "3 poll clients connected and messages published",
        |s| {
            technique_figure(s, "poll", "connections") == 3
                && s["published"].as_u64() >= Some(INTO_THE_WINDOW)
        },
    );
    signal(&server_pid.to_string(), "KILL");
    let output = wait_exit(
        child,
        Duration::from_secs(30),
        "pushbench did not end within 30 s of its server dying",
    );
    assert_eq!(
        output.status.code(),
        Some(4),
        "cut short by the server's death"
    );
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["partial"], true);
    let failure = m["failure"].as_str().unwrap();
    assert!(failure.contains("server exited"), "{failure}");
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let t = &doc["techniques"][0];
    assert_eq!(t["technique"], "poll");
    assert!(
        t["failure"].as_str().unwrap().contains("server exited"),
        "{t}"
    );
}
