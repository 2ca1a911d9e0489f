//! `pushbench run --check` end to end (README, "Checks"): a check that must pass exits 0 with
//! its verdicts in checks.json and `--json`; a check that must fail exits 5 with the failing
//! figure printed, in checks.json and on the report page; a bad check exits 2 with one line
//! before anything starts; a scenario's `[checks]` table is judged like the flags; a failed run
//! exits 3 over its checks, which are not measured.

mod run_common;

use std::path::Path;
use std::time::Duration;

use run_common::{NotAPushServer, SHORT_RUN, TempDir, run, run_json};

const LIMIT: Duration = Duration::from_secs(90);

/// A short run of two techniques with few clients.
fn checks_json(dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("checks.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn args<'a>(out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["run", "--out", out];
    v.extend_from_slice(SHORT_RUN);
    v.extend_from_slice(extra);
    v
}

#[test]
fn a_check_that_holds_exits_0_with_its_verdicts() {
    let dir = TempDir::new("check-pass");
    let out = dir.join("run");
    let o = out.to_str().unwrap();
    let extra = [
        "--techniques",
        "poll,sse",
        "--check",
        "*.lost == 0",
        "--check",
        "sse.delivered_ratio >= 0.999",
        "--json",
        "--no-report",
    ];
    let doc = run_json(&args(o, &extra), LIMIT);
    let v = checks_json(&out);
    let got: Vec<(&str, &str, &str)> = v
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap();
            (s("expr"), s("technique"), s("verdict"))
        })
        .collect();
    assert_eq!(
        got,
        [
            ("*.lost == 0", "poll", "pass"),
            ("*.lost == 0", "sse", "pass"),
            ("sse.delivered_ratio >= 0.999", "sse", "pass"),
        ]
    );
    assert_eq!(v[0]["figure"], "lost");
    assert_eq!(v[0]["value"], 0.0);
    assert_eq!(v[2]["value"], 1.0);
    assert_eq!(
        doc["checks"].as_array().unwrap(),
        &v,
        "--json carries checks.json"
    );
    assert_eq!(doc["techniques"].as_array().unwrap().len(), 2);
}

#[test]
fn a_check_that_fails_exits_5_naming_the_figure() {
    let dir = TempDir::new("check-fail");
    let out = dir.join("run");
    let o = out.to_str().unwrap();
    let extra = [
        "--techniques",
        "sse,ws",
        "--check",
        "sse.p50 < 1us",
        "--check",
        "*.lost == 0",
    ];
    let r = run(&args(o, &extra), LIMIT);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&r.stdout),
        String::from_utf8_lossy(&r.stderr),
    );
    assert_eq!(
        r.status.code(),
        Some(5),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(
        stdout.contains("check sse.p50 < 1us: fail (p50 "),
        "stdout: {stdout}"
    );
    assert!(
        stdout.contains("check *.lost == 0 [ws]: pass (lost 0)"),
        "{stdout}"
    );
    assert!(
        stderr.contains("1 failed (sse.p50 < 1us)"),
        "stderr: {stderr}"
    );
    let v = checks_json(&out);
    assert_eq!(v.len(), 3);
    assert_eq!(
        (v[0]["verdict"].as_str(), v[0]["unit"].as_str()),
        (Some("fail"), Some("us"))
    );
    assert!(v[0]["value"].as_f64().unwrap() >= 1.0, "{}", v[0]);
    assert_eq!(v[0]["threshold"], 1.0);
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        page.contains("<h2 id=\"checks\">Checks</h2>"),
        "no Checks section"
    );
    assert!(page.contains("sse.p50 &lt; 1us"));
}

#[test]
fn a_bad_check_exits_2_in_one_line_before_anything_starts() {
    let dir = TempDir::new("check-bad");
    let out = dir.join("run");
    let o = out.to_str().unwrap();
    for (check, says) in [
        ("sse.p99 50ms", "no comparison"),
        ("grpc.p99 < 50ms", "unknown technique `grpc`"),
        (
            "ws.p99 < 50ms",
            "`ws` is not in this run's --techniques (poll, sse)",
        ),
        ("sse.p98 < 50ms", "unknown figure `p98`"),
        ("sse.p99 < 50", "p99 is a duration"),
        ("sse.lost == 0ms", "`ms` does not fit"),
        ("sse.p99 < 50parsecs", "unknown unit `parsecs`"),
    ] {
        let r = run(
            &args(o, &["--techniques", "poll,sse", "--check", check]),
            LIMIT,
        );
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{check}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{check}: {stderr}");
        assert!(
            stderr.starts_with("pushbench: error: --check: "),
            "{stderr}"
        );
        assert!(stderr.contains(says), "{check}: {stderr}");
        assert!(!out.exists(), "{check}: a run directory was made");
    }
}

#[test]
fn a_scenario_checks_table_is_judged() {
    let dir = TempDir::new("check-scenario");
    let out = dir.join("run");
    let scenario = dir.join("s.toml");
    std::fs::write(
        &scenario,
        "description = \"checks\"\ntechniques = [\"sse\", \"ws\"]\nclients = 3\n\
         warmup = \"0s\"\nduration = \"1s\"\ndrain = \"500ms\"\npause = \"0s\"\n\
         [checks]\n\"*\" = [\"lost == 0\"]\nsse = [\"p99 < 5s\", \"errors == 0\"]\n",
    )
    .unwrap();
    let (o, s) = (out.to_str().unwrap(), scenario.to_str().unwrap());
    let r = run(&["run", "--scenario", s, "--out", o, "--no-report"], LIMIT);
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert_eq!(
        r.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(stdout.contains("4 checks: 4 passed, 0 failed"), "{stdout}");
    let exprs: Vec<String> = checks_json(&out)
        .iter()
        .map(|c| format!("{} {}", c["expr"].as_str().unwrap(), c["technique"]))
        .collect();
    assert_eq!(
        exprs,
        [
            "*.lost == 0 \"sse\"",
            "*.lost == 0 \"ws\"",
            "sse.p99 < 5s \"sse\"",
            "sse.errors == 0 \"sse\""
        ]
    );
    // A bad expression in the file: exit 2 naming the file, nothing started.
    std::fs::write(&scenario, "checks = [\"sse.p99 < 5\"]\n").unwrap();
    let bad = dir.join("bad");
    let r = run(
        &["run", "--scenario", s, "--out", bad.to_str().unwrap()],
        LIMIT,
    );
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(r.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("s.toml: checks: `sse.p99 < 5`"), "{stderr}");
    assert!(!bad.exists());
}

#[test]
fn a_failed_run_exits_3_over_its_checks_which_are_not_measured() {
    let server = NotAPushServer::start();
    let url = server.url();
    let dir = TempDir::new("check-exit3");
    let out = dir.join("run");
    let o = out.to_str().unwrap();
    let extra = [
        "--target",
        &url,
        "--techniques",
        "sse",
        "--no-report",
        "--check",
        "sse.p99 < 1s",
    ];
    let r = run(&args(o, &extra), LIMIT);
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert_eq!(r.status.code(), Some(3), "{stdout}");
    assert!(
        stdout.contains("check sse.p99 < 1s: fail (p99 not measured)"),
        "{stdout}"
    );
    let v = checks_json(&out);
    assert_eq!(
        (v[0]["verdict"].as_str(), &v[0]["value"]),
        (Some("fail"), &serde_json::Value::Null)
    );
}
