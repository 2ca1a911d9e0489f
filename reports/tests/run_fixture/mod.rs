//! Run directories built in a test from the format's own types (contract::run_dir): a
//! manifest, techniques' summaries and time-series rows, serialized into manifest.json,
//! summary.json, summary.csv, timeseries.csv and one histogram per technique, as
//! `pushbench run` writes them (docs/RUN_FORMAT.md).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use contract::run_dir::{
    Document, LatencyUs, Manifest, Repetitions, SummaryRow, Technique, TechniqueSummary,
    TimeseriesRow,
};
use hdrhistogram::Histogram;

/// A fresh, empty directory under the test target directory.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("reports-built-runs")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A manifest with `params` and the given target fields.
pub fn manifest(params: serde_json::Value, target: Option<&str>) -> Manifest {
    let mut m: Manifest = serde_json::from_value(serde_json::json!({
        "format": contract::run_dir::FORMAT,
        "format_version": contract::run_dir::FORMAT_VERSION,
        "started_at": "2026-12-05T10:00:00.000Z",
        "ended_at": "2026-12-05T10:01:00.000Z",
        "params": params,
    }))
    .unwrap();
    m.target = target.map(String::from);
    m
}

/// A measured technique: `clients` clients, `delivered` of `delivered` messages over 10 s,
/// 256-byte payloads, `bytes` client bytes per message (down), latency p50/p99 in µs, and
/// server figures when given (CPU s, peak and idle RSS).
pub fn technique(
    t: Technique,
    clients: u64,
    delivered: u64,
    (p50, p99): (u64, u64),
    bytes: u64,
    server: Option<(f64, u64, u64)>,
) -> TechniqueSummary {
    let mut s = TechniqueSummary::skipped(t, "");
    s.skipped = None;
    s.clients = Some(clients);
    s.topics = Some(1);
    s.payload_bytes = Some(256);
    s.duration_s = Some(10.0);
    s.published = Some(delivered / clients.max(1));
    s.expected = Some(delivered);
    s.delivered = Some(delivered);
    s.lost = Some(0);
    s.duplicates = Some(0);
    s.out_of_order = Some(0);
    s.requests = Some(clients);
    s.empty_responses = Some(0);
    s.reconnects = Some(0);
    s.bytes_up = Some(0);
    s.bytes_down = Some(bytes * delivered);
    s.latency_us = LatencyUs {
        count: Some(delivered),
        min: Some(p50 / 2),
        mean: Some(p50 as f64),
        p50: Some(p50),
        p90: Some((p50 + p99) / 2),
        p99: Some(p99),
        p999: Some(p99),
        max: Some(p99),
    };
    if let Some((cpu, rss, idle)) = server {
        s.server_cpu_s = Some(cpu);
        s.server_rss_bytes = Some(rss);
        s.server_rss_idle_bytes = Some(idle);
    }
    s
}

/// `figures` (name → (min, median, max)) as a technique's repetitions over `count` runs.
pub fn repetitions(count: u64, figures: &[(&str, (f64, f64, f64))]) -> Repetitions {
    Repetitions {
        count,
        figures: figures
            .iter()
            .map(|(n, (lo, med, hi))| {
                let r = contract::run_dir::Range {
                    min: Some(*lo),
                    median: Some(*med),
                    max: Some(*hi),
                };
                (n.to_string(), r)
            })
            .collect(),
    }
}

/// Seconds `t0..t0 + n` of one technique (`repetition`), `rate` delivered per second.
pub fn seconds(
    t: Technique,
    repetition: Option<u32>,
    t0: f64,
    n: u32,
    rate: f64,
) -> Vec<TimeseriesRow> {
    (1..=n)
        .map(|i| TimeseriesRow {
            t_s: t0 + f64::from(i),
            technique: t,
            phase: Some(if i == 1 { "ramp-up" } else { "steady" }.into()),
            connections: Some(10),
            delivered_per_s: Some(rate),
            latency_p99_us: Some(2000),
            bytes_down_per_s: Some(rate * 300.0),
            bytes_up_per_s: Some(0.0),
            requests_per_s: Some(0.0),
            server_cpu_s: Some(0.01),
            server_rss_bytes: Some(8_000_000),
            loadgen_cpu_s: Some(0.01),
            repetition,
        })
        .collect()
}

/// Writes the run directory `dir`.
pub fn write(
    dir: &Path,
    manifest: &Manifest,
    techniques: &[TechniqueSummary],
    rows: &[TimeseriesRow],
) {
    std::fs::create_dir_all(dir.join("histograms")).unwrap();
    std::fs::write(dir.join("manifest.json"), json(manifest)).unwrap();
    let doc = Document {
        manifest: manifest.clone(),
        techniques: techniques.to_vec(),
    };
    std::fs::write(dir.join("summary.json"), json(&doc)).unwrap();
    let summary: Vec<SummaryRow> = techniques.iter().map(SummaryRow::from).collect();
    contract::run_dir::csv::write_file(&dir.join("summary.csv"), &summary).unwrap();
    contract::run_dir::csv::write_file(&dir.join("timeseries.csv"), rows).unwrap();
    for t in techniques.iter().filter(|t| t.skipped.is_none()) {
        let l = &t.latency_us;
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        let n = l.count.unwrap_or(0);
        for i in 0..n {
            let v = if i * 100 < n * 98 {
                l.p50.unwrap()
            } else {
                l.p99.unwrap()
            };
            h.record(v).unwrap();
        }
        let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let log = contract::run_dir::hlog::write_log(
            &h,
            start,
            start,
            Duration::from_secs(10),
            t.technique.name(),
        )
        .unwrap();
        let name = format!("{}.hlog", t.technique.name());
        std::fs::write(dir.join("histograms").join(name), log).unwrap();
    }
}

/// Pretty JSON, as the writer puts it.
fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap()
}
