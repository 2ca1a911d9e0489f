//! Helpers shared by the `pushbench run --fault ...` end-to-end tests: a small run (20
//! clients, short warm-up and drain, no pause) with `--json`, its technique entries and their
//! `fault` entries.

#![allow(dead_code)]

use std::time::Duration;

use crate::run_common::{TempDir, run, technique, u};

/// Clients of every fault run: few, so that the runs stay light on a busy 2-core machine.
pub const CLIENTS: u64 = 20;

/// Options common to every fault run.
const SMALL: &[&str] = &[
    "--clients",
    "20",
    "--warmup",
    "500ms",
    "--drain",
    "3s",
    "--pause",
    "0s",
];

/// Runs `pushbench run ARGS --json --no-report` into a new directory; returns its exit code,
/// its JSON document and stderr.
pub fn run_json(tag: &str, args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let dir = TempDir::new(tag);
    let out = dir.join("run");
    let mut all = vec![
        "run",
        "--out",
        out.to_str().unwrap(),
        "--json",
        "--no-report",
    ];
    all.extend_from_slice(args);
    let o = run(&all, Duration::from_secs(240));
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    let doc = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!("stdout is not JSON ({e}); stderr: {stderr}");
    });
    (o.status.code(), doc, stderr)
}

/// Runs `pushbench run SMALL ARGS --json --no-report`; asserts it exited 0 and returns its
/// JSON document and stderr.
pub fn run_fault(tag: &str, args: &[&str]) -> (serde_json::Value, String) {
    let all: Vec<&str> = SMALL.iter().chain(args).copied().collect();
    let (code, doc, stderr) = run_json(tag, &all);
    assert_eq!(code, Some(0), "{args:?}: {stderr}");
    (doc, stderr)
}

/// The technique entry `name` and its `fault` entry (which must be an object).
pub fn entries<'a>(
    doc: &'a serde_json::Value,
    name: &str,
) -> (&'a serde_json::Value, &'a serde_json::Value) {
    let t = technique(doc, name);
    let f = &t["fault"];
    assert!(f.is_object(), "{name}: no fault entry: {t}");
    (t, f)
}

/// Asserts that `t` lost nothing: every expected message delivered, no failure, no error.
pub fn lost_nothing(name: &str, t: &serde_json::Value) {
    assert_eq!(u(t, "lost"), 0, "{name}: {t}");
    assert_eq!(u(t, "delivered"), u(t, "expected"), "{name}: {t}");
    assert!(u(t, "expected") > 0, "{name}: {t}");
    assert_eq!(t["failure"], serde_json::Value::Null, "{name}: {t}");
    // Injected faults are counted apart (cuts, idle cuts), never as the server's errors.
    assert_eq!(t["errors"], serde_json::json!({}), "{name}: {t}");
}
