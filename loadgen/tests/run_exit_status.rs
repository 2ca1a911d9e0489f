//! The exit status of `pushbench run` (README, "Exit status"): a run whose techniques
//! delivered nothing exits 3 and says why in each technique's `failure`; a healthy run exits 0;
//! a payload smaller than the header is a usage error (2).

mod run_common;

use std::time::Duration;

use run_common::{NotAPushServer, SHORT_RUN, TempDir, run, technique};

#[test]
fn a_target_that_is_not_a_push_server_fails_the_run_with_exit_3() {
    let server = NotAPushServer::start();
    let dir = TempDir::new("exit3");
    let out = dir.join("run");
    let url = server.url();
    let mut args = vec![
        "run",
        "--target",
        &url,
        "--techniques",
        "poll,sse,ws",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(SHORT_RUN);
    args.push("--no-report");
    let o = run(&args, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "stderr: {stderr}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        doc["manifest"]["partial"], false,
        "not cut short: it failed"
    );
    for name in ["poll", "sse", "ws"] {
        let t = technique(&doc, name);
        let f = t["failure"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: {t}"));
        assert!(f.contains("no client delivered a message"), "{name}: {f}");
        assert!(f.contains("http_status"), "{name}: {f}");
        assert!(
            f.contains("publishing failed") && f.contains("404"),
            "{name}: {f}"
        );
        assert!(stderr.contains(&format!("{name} failed (")), "{stderr}");
    }
    assert_eq!(
        stderr
            .trim_end()
            .lines()
            .last()
            .map(|l| l.starts_with("pushbench: error: ")),
        Some(true),
        "{stderr}"
    );
}

#[test]
fn a_healthy_run_exits_0_with_no_failure() {
    let dir = TempDir::new("exit0");
    let out = dir.join("run");
    let mut args = vec!["run", "--techniques", "sse", "--out", out.to_str().unwrap()];
    args.extend_from_slice(SHORT_RUN);
    args.push("--no-report");
    let o = run(&args, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "stderr: {stderr}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let t = technique(&doc, "sse");
    assert!(t["failure"].is_null(), "{t}");
    assert!(t["delivered"].as_u64().unwrap() > 0, "{t}");
}

#[test]
fn a_payload_smaller_than_the_header_is_refused_with_the_minimum() {
    let dir = TempDir::new("exit2");
    for size in ["0", "10", "56"] {
        let out = dir.join(&format!("run-{size}"));
        let mut args = vec!["run", "--payload-bytes", size, "--techniques", "sse"];
        args.extend_from_slice(&["--out", out.to_str().unwrap()]);
        args.extend_from_slice(SHORT_RUN);
        args.push("--no-report");
        let o = run(&args, Duration::from_secs(30));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{size}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("--payload-bytes") && stderr.contains("at least 57"),
            "{stderr}"
        );
    }
    // The same through a scenario file (sweep reads the same options).
    let scn = dir.join("small.toml");
    std::fs::write(&scn, "payload-bytes = 20\n").unwrap();
    let scn = scn.to_str().unwrap();
    let out = dir.join("scenario");
    let out = out.to_str().unwrap();
    for cmd in ["run", "sweep"] {
        let mut args = vec![cmd, "--scenario", scn, "--techniques", "sse", "--out", out];
        // A sweep's --clients is its list of steps.
        args.extend_from_slice(&["--clients", "1", "--duration", "1s", "--warmup", "0s"]);
        args.extend_from_slice(&["--drain", "500ms", "--no-report"]);
        let o = run(&args, Duration::from_secs(30));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("at least 57"), "{stderr}");
    }
}
