//! What a user reads after `pushbench run`, from one real run: the shipped chat scenario
//! (`scenarios/chat.toml`: 40 topics, 1 message/s per topic, 200-byte payloads), scaled down
//! on the command line. Every topic's subscribers get every message of the window, and the
//! printed summary table has the columns the README shows, with the values of summary.json.

mod run_common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use run_common::{TempDir, run, u};
use serde_json::Value;

/// 60 clients over the scenario's 40 topics: topics 0..19 have 2 subscribers, 20..39 one.
const CLIENTS: u64 = 60;
const TOPICS: u64 = 40;
const TECHNIQUES: [&str; 5] = ["poll", "long-poll", "stream", "sse", "ws"];

/// The run both tests read: what it printed, and its summary.json and manifest.json.
struct ChatRun {
    stdout: String,
    summary: Value,
    manifest: Value,
    /// Kept so the run directory lives as long as the test binary.
    _dir: TempDir,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs the scaled-down chat scenario once (the first test to ask runs it; the other waits).
fn chat_run() -> &'static ChatRun {
    static RUN: OnceLock<ChatRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = TempDir::new("chat");
        let out = dir.join("run");
        let scenario = repo().join("scenarios/chat.toml");
        let clients = CLIENTS.to_string();
        // The flags override the file: fewer clients, seconds instead of a minute and a half
        // (1 s of window at 1 msg/s per topic: one message per topic).
        let args = [
            "run",
            "--scenario",
            scenario.to_str().unwrap(),
            "--clients",
            &clients,
            "--warmup",
            "500ms",
            "--duration",
            "1s",
            "--poll-interval",
            "500ms",
            "--drain",
            "1s",
            "--pause",
            "100ms",
            "--no-report",
            "--out",
            out.to_str().unwrap(),
        ];
        let o = run(&args, Duration::from_secs(120));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "pushbench {args:?} failed: {stderr}");
        let read = |name: &str| -> Value {
            let text = std::fs::read_to_string(out.join(name)).unwrap();
            serde_json::from_str(&text).unwrap()
        };
        ChatRun {
            stdout: String::from_utf8(o.stdout).unwrap(),
            summary: read("summary.json"),
            manifest: read("manifest.json"),
            _dir: dir,
        }
    })
}

#[test]
fn the_chat_scenario_delivers_every_topic_to_every_subscriber() {
    let r = chat_run();
    let params = &r.manifest["params"];
    assert!(
        params["scenario"]
            .as_str()
            .unwrap()
            .ends_with("scenarios/chat.toml"),
        "{params}"
    );
    // From the file (not overridden) and from the flags.
    assert_eq!((u(params, "topics"), u(params, "payload_bytes")), (40, 200));
    assert_eq!(u(params, "clients"), CLIENTS);
    let techniques = r.summary["techniques"].as_array().unwrap();
    assert_eq!(techniques.len(), TECHNIQUES.len());
    for t in techniques {
        let name = t["technique"].as_str().unwrap();
        assert_eq!((u(t, "clients"), u(t, "topics")), (CLIENTS, TOPICS), "{t}");
        // 1 s at 1 msg/s per topic: every topic published the same number of messages (one,
        // unless the schedule's edges say otherwise), so every client expects that many,
        // whichever topic it is on.
        let published = u(t, "published");
        assert!(published >= TOPICS, "{name}: {t}");
        assert_eq!(published % TOPICS, 0, "{name}: {t}");
        let per_topic = published / TOPICS;
        assert_eq!(u(t, "expected"), per_topic * CLIENTS, "{name}: {t}");
        assert_eq!(u(t, "delivered"), u(t, "expected"), "{name}: {t}");
        assert_eq!(
            (u(t, "lost"), u(t, "duplicates"), u(t, "out_of_order")),
            (0, 0, 0),
            "{name}: {t}"
        );
        assert_eq!(t["errors"], serde_json::json!({}), "{name}: {t}");
        assert!(t["failure"].is_null(), "{name}: {t}");
    }
}

/// Splits a table line into its cells (cells are padded and separated by 2+ spaces).
fn cells(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

/// The summary table of the README's "The two commands" section: its lines, in order.
fn readme_table() -> Vec<String> {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let section = readme
        .split("## The two commands")
        .nth(1)
        .expect("README has `The two commands`");
    let start = section
        .find("```\ntechnique ")
        .expect("the summary table's code block");
    section[start + 4..]
        .lines()
        .take_while(|l| !l.starts_with("```"))
        .map(str::to_string)
        .collect()
}

/// `cell` is `want` printed with `decimals` decimals (the value itself, not a neighbour: the
/// table and summary.json hold the same number).
fn shows(cell: &str, want: f64, decimals: usize, what: &str) {
    assert_eq!(
        cell,
        format!("{want:.decimals$}"),
        "{what}: summary.json says {want}"
    );
}

fn ratio(n: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

#[test]
fn the_printed_table_has_the_readme_columns_and_the_summary_values() {
    let r = chat_run();
    let readme = readme_table();
    let printed: Vec<&str> = r.stdout.lines().collect();
    // Header, rule, one row per technique (as in the README), then where the run went.
    let header = cells(printed[0]);
    assert_eq!(header, cells(&readme[0]), "the README's columns, in order");
    assert_eq!(header.len(), 11, "{header:?}");
    // A rule as wide as the table (the header spans it: its last cell is right-aligned).
    for (head, rule) in [(printed[0], printed[1]), (&readme[0], &readme[1])] {
        assert!(rule.chars().all(|c| c == '-'), "{rule}");
        assert_eq!(rule.len(), head.len(), "{head}\n{rule}");
    }
    assert_eq!(readme.len(), 2 + TECHNIQUES.len(), "{readme:?}");
    for row in &readme[2..] {
        assert_eq!(cells(row).len(), header.len(), "README row `{row}`");
    }
    assert_eq!(printed.len(), 2 + TECHNIQUES.len() + 1, "{}", r.stdout);
    assert!(printed[7].starts_with("run directory: "), "{}", r.stdout);

    let techniques = r.summary["techniques"].as_array().unwrap();
    for (line, t) in printed[2..7].iter().zip(techniques) {
        let row: std::collections::HashMap<&str, String> =
            header.iter().map(String::as_str).zip(cells(line)).collect();
        let name = t["technique"].as_str().unwrap();
        let what = |col: &str| format!("{name}, {col}");
        assert_eq!(row["technique"], name);
        let (delivered, expected) = (u(t, "delivered"), u(t, "expected"));
        assert_eq!(row["delivered/expected"], format!("{delivered}/{expected}"));
        assert_eq!(row["lost"], u(t, "lost").to_string(), "{}", what("lost"));
        for (col, key) in [("p50 ms", "p50"), ("p99 ms", "p99"), ("max ms", "max")] {
            let ms = u(&t["latency_us"], key) as f64 / 1000.0;
            shows(&row[col], ms, 1, &what(col));
        }
        let bytes = u(t, "bytes_up") + u(t, "bytes_down");
        for (col, value) in [
            ("req/msg", ratio(u(t, "requests"), delivered)),
            ("bytes/msg", ratio(bytes, delivered)),
        ] {
            match value {
                Some(v) => shows(&row[col], v, 2, &what(col)),
                None => assert_eq!(row[col], "-", "{}", what(col)),
            }
        }
        let cpu = t["server_cpu_s"].as_f64().unwrap();
        shows(&row["srv CPU s"], cpu, 2, &what("srv CPU s"));
        let rss = u(t, "server_rss_bytes") as f64 / (1024.0 * 1024.0);
        shows(&row["srv RSS MiB"], rss, 1, &what("srv RSS MiB"));
        let errors: u64 = t["errors"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(row["errors"], errors.to_string(), "{}", what("errors"));
    }
}
