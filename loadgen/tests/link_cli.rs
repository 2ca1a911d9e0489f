//! `--link`, `--publisher-link` and `sweep --links` on the real binary: a malformed link is one
//! line naming the valid keys and presets, exit status 2, and nothing started or written;
//! a links sweep runs every technique over every link and records each step's link.

mod run_common;

use std::path::Path;
use std::time::Duration;

use run_common::{TempDir, run};

/// Bad link values: an unknown key, a negative delay, a bandwidth without a unit, an unknown
/// preset.
const BAD: [&str; 4] = ["rtt=100ms,loss=1%", "rtt=-5ms", "down=1000", "fast-5g"];

/// Checks a refused command line: exit 2, one line on stderr naming `flag` and listing every
/// key and preset, and no directory at `out`.
fn assert_refused(args: &[&str], flag: &str, out: &Path) {
    let o = run(args, Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{args:?}: one line, got {stderr}");
    let line = lines[0];
    assert!(
        line.starts_with(&format!("pushbench: error: {flag}: ")),
        "{args:?}: {line}"
    );
    for key in ["rtt=", "jitter=", "down=", "up="] {
        assert!(line.contains(key), "{args:?} does not list {key}: {line}");
    }
    for preset in [
        "slow-3g",
        "fast-3g",
        "slow-4g",
        "fast-4g",
        "dsl",
        "satellite",
    ] {
        assert!(
            line.contains(preset),
            "{args:?} does not list {preset}: {line}"
        );
    }
    assert!(o.stdout.is_empty(), "{args:?}: nothing on stdout");
    assert!(!out.exists(), "{args:?}: {} was created", out.display());
}

#[test]
fn a_bad_link_is_refused_with_one_line_and_exit_2_before_anything_starts() {
    let dir = TempDir::new("link-bad");
    let out = dir.join("never");
    let o = out.to_str().unwrap();
    for bad in BAD {
        assert_refused(&["run", "--link", bad, "--out", o], "--link", &out);
        assert_refused(
            &["run", "--publisher-link", bad, "--out", o],
            "--publisher-link",
            &out,
        );
        assert_refused(&["sweep", "--link", bad, "--out", o], "--link", &out);
        assert_refused(
            &["sweep", "--links", &format!("0;{bad}"), "--out", o],
            "--links",
            &out,
        );
    }
    // In a scenario file too, named by its flag.
    let scn = dir.join("s.toml");
    std::fs::write(&scn, "link = \"rtt=-1ms\"\n").unwrap();
    assert_refused(
        &["run", "--scenario", scn.to_str().unwrap(), "--out", o],
        "--link",
        &out,
    );
}

#[test]
fn links_and_link_together_or_twice_the_same_link_are_refused() {
    let dir = TempDir::new("link-both");
    let out = dir.join("never");
    let o = out.to_str().unwrap();
    for args in [
        vec!["sweep", "--links", "0,100ms", "--link", "20ms", "--out", o],
        vec!["sweep", "--links", "0,none", "--out", o],
    ] {
        let r = run(&args, Duration::from_secs(30));
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("pushbench: error: --links: "),
            "{stderr}"
        );
        assert!(!out.exists());
    }
}

/// `sweep --links 0,100ms` over two techniques at one client count: four steps, each with its
/// link's label and RTT, its own run directory, and a median that grows with the RTT by about
/// the one-way delay.
#[test]
fn a_links_sweep_runs_every_technique_over_every_link() {
    let dir = TempDir::new("link-sweep");
    let out = dir.join("sweep");
    let o = run(
        &[
            "sweep",
            "--links",
            "0,100ms",
            "--techniques",
            "sse,ws",
            "--clients",
            "10",
            "--rate",
            "2",
            "--warmup",
            "500ms",
            "--duration",
            "2s",
            "--drain",
            "1s",
            "--pause",
            "50ms",
            "--no-report",
            "--out",
            out.to_str().unwrap(),
        ],
        Duration::from_secs(120),
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("rtt=100ms"),
        "the table names the links: {stdout}"
    );
    let doc = reports::sweep::load(&out).expect("sweep.json loads");
    assert_eq!(doc.links, ["none", "rtt=100ms"]);
    assert_eq!(doc.clients, [10]);
    assert!(
        doc.run_params.get("link").is_none(),
        "the link varies by step"
    );
    let steps: Vec<(&str, &str, u64)> = doc
        .steps
        .iter()
        .map(|s| (s.technique.as_str(), s.link.as_str(), s.link_rtt_us))
        .collect();
    assert_eq!(
        steps,
        [
            ("sse", "none", 0),
            ("sse", "rtt=100ms", 100_000),
            ("ws", "none", 0),
            ("ws", "rtt=100ms", 100_000),
        ]
    );
    for pair in doc.steps.chunks(2) {
        let (direct, far) = (pair[0].p50_us.unwrap(), pair[1].p50_us.unwrap());
        assert!(
            far >= direct + 45_000 && far <= direct + 65_000,
            "{}: p50 {direct} µs direct, {far} µs over rtt=100ms",
            pair[0].technique
        );
        for s in pair {
            assert_eq!(s.lost, 0, "{s:?}");
            assert!(
                out.join(&s.run_dir).join("summary.json").is_file(),
                "{}",
                s.run_dir
            );
        }
    }
    let dirs: Vec<&str> = doc.steps.iter().map(|s| s.run_dir.as_str()).collect();
    assert_eq!(
        dirs,
        [
            "sse-10-none",
            "sse-10-rtt100ms",
            "ws-10-none",
            "ws-10-rtt100ms"
        ]
    );
    let outcomes: Vec<(&str, Option<&str>)> = doc
        .outcomes
        .iter()
        .map(|o| (o.technique.as_str(), o.link.as_deref()))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("sse", Some("none")),
            ("sse", Some("rtt=100ms")),
            ("ws", Some("none")),
            ("ws", Some("rtt=100ms")),
        ]
    );
}
