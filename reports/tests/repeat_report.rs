//! The report of a run measured with `--repeat 3`, built in the test from the format's types:
//! the summary table shows `median (min–max)` with the actual numbers, the page says what the
//! figures are, techniques.csv gains its `_min`/`_max` columns, timeseries.csv keeps the
//! repetition column, the charts are written and differ from those of the same medians measured
//! once (the whiskers), the claims call no difference where ranges overlap, and a run measured
//! once renders without any of it.

mod golden_common;
mod run_fixture;

use std::fs;
use std::path::Path;

use contract::run_dir::{Technique, TechniqueSummary, TimeseriesRow};
use golden_common::{cell, read_csv, row};
use run_fixture::*;

/// SSE and WebSocket over three repetitions: (technique summaries, time series).
fn repeated() -> (Vec<TechniqueSummary>, Vec<TimeseriesRow>) {
    let server = Some((0.05, 9_000_000, 8_000_000));
    let mut sse = technique(Technique::Sse, 100, 10_000, (3000, 8000), 300, server);
    sse.repetitions = Some(repetitions(
        3,
        &[
            ("p50", (2500.0, 3000.0, 3600.0)),
            ("p99", (7000.0, 8000.0, 9500.0)),
            ("server_cpu_per_1m_s", (4.2, 5.0, 6.1)),
            ("server_rss_per_client", (9000.0, 10000.0, 12000.0)),
            ("bytes_per_message", (299.0, 300.0, 301.0)),
            ("lost", (0.0, 0.0, 2.0)),
        ],
    ));
    let server = Some((0.08, 9_500_000, 8_000_000));
    let mut ws = technique(Technique::Ws, 100, 10_000, (2800, 6000), 280, server);
    ws.repetitions = Some(repetitions(
        3,
        &[
            ("p50", (2600.0, 2800.0, 3100.0)),
            ("p99", (5500.0, 6000.0, 6600.0)),
            ("server_cpu_per_1m_s", (7.5, 8.0, 9.0)),
            ("server_rss_per_client", (14000.0, 15000.0, 16000.0)),
            ("bytes_per_message", (279.0, 280.0, 281.0)),
        ],
    ));
    let mut rows = Vec::new();
    for rep in 1..=3u32 {
        let t0 = f64::from(rep - 1) * 30.0;
        rows.extend(seconds(Technique::Sse, Some(rep), t0, 12, 1000.0));
        rows.extend(seconds(Technique::Ws, Some(rep), t0 + 15.0, 12, 1000.0));
    }
    (vec![sse, ws], rows)
}

/// The same run as if measured once: the medians, no ranges, no repetition column.
fn once() -> (Vec<TechniqueSummary>, Vec<TimeseriesRow>) {
    let (mut ts, mut rows) = repeated();
    ts.iter_mut().for_each(|t| t.repetitions = None);
    rows.iter_mut().for_each(|r| r.repetition = None);
    (ts, rows)
}

fn render(name: &str, (ts, rows): (Vec<TechniqueSummary>, Vec<TimeseriesRow>), n: u64) -> String {
    let dir = scratch(name);
    let params = serde_json::json!({"clients": 100, "repeat": n, "payload_bytes": 256});
    write(&dir, &manifest(params, Some("embedded")), &ts, &rows);
    let out = reports::write_report(std::slice::from_ref(&dir), None).unwrap();
    assert!(!out.partial);
    fs::read_to_string(dir.join("index.html")).unwrap()
}

fn report(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("reports-built-runs")
        .join(name)
        .join("report")
}

#[test]
fn the_table_shows_each_median_with_its_min_max() {
    let html = render("repeat-table", repeated(), 3);
    assert!(
        html.contains(
            "Median of 3 repetitions, each on a fresh server; whiskers/ranges are min–max."
        ),
        "no sentence"
    );
    // p50 and p99 of SSE, then of WebSocket.
    for cellv in [
        "3.00 ms (2.50 ms–3.60 ms)",
        "8.00 ms (7.00 ms–9.50 ms)",
        "2.80 ms (2.60 ms–3.10 ms)",
        "6.00 ms (5.50 ms–6.60 ms)",
    ] {
        assert!(html.contains(&format!("<td>{cellv}</td>")), "no {cellv}");
    }
    // Server CPU per 1,000 messages and memory per connection.
    assert!(html.contains("<td>5.00 (4.20–6.10)</td>"), "CPU range");
    assert!(html.contains("<td>8.00 (7.50–9.00)</td>"), "CPU range");
    assert!(
        html.contains("<td>9.77 KiB (8.79 KiB–11.7 KiB)</td>"),
        "RSS range"
    );
    assert!(html.contains("<td>0 (0–2)</td>"), "lost range");
    // p99: WebSocket 5.5–6.6 ms, SSE 7.0–9.5 ms: a clear lead.
    assert!(
        html.contains("lowest p99 latency: WebSocket (6.00 ms)"),
        "at a glance"
    );
}

#[test]
fn claims_call_no_difference_on_overlapping_ranges() {
    let html = render("repeat-claims", repeated(), 3);
    // Memory: SSE 9.0–12 KB against WebSocket 14–16 KB, apart: decided.
    assert!(html.contains("SSE 9.77 KiB per connection vs WebSocket 14.6 KiB per connection"));
    // Bytes per message: 299–301 against 279–281, apart: decided (SSE heavier).
    assert!(html.contains("SSE 300 B per message vs WebSocket 280 B per message</td>"));
    // CPU: 4.2–6.1 against 7.5–9.0, apart.
    assert!(!html.contains("the ranges overlap"), "nothing overlaps yet");
    let (mut ts, rows) = repeated();
    let ws = ts[1].repetitions.as_mut().unwrap();
    ws.figures.get_mut("server_cpu_per_1m_s").unwrap().min = Some(5.5);
    let sse = ts[0].repetitions.as_mut().unwrap();
    sse.figures.get_mut("p99").unwrap().min = Some(6500.0);
    let html = render("repeat-claims-overlap", (ts, rows), 3);
    assert!(
        html.contains("over the repetitions SSE ranged 4.20–6.10 and WebSocket 5.50–9.00"),
        "overlap not reported"
    );
    assert!(
        html.contains("lowest p99 latency: SSE and WebSocket (ranges overlap) (6.00 ms)"),
        "at a glance calls a lead"
    );
    assert!(
        html.contains("its min–max over the repetitions overlaps SSE&#39;s, so no clear lead"),
        "lowest p99 calls a lead"
    );
}

#[test]
fn techniques_csv_gains_min_max_columns_and_timeseries_keeps_repetitions() {
    render("repeat-csv", repeated(), 3);
    let dir = report("repeat-csv");
    let (h, rows) = read_csv(&dir.join("techniques.csv"));
    let usual = reports::csv_out::SUMMARY_COLUMNS.len();
    assert_eq!(h[..usual].len(), usual);
    assert_eq!(h[usual], "repetitions");
    let sse = row(&h, &rows, "sse");
    assert_eq!(cell(&h, sse, "repetitions"), "3");
    assert_eq!(cell(&h, sse, "latency_p50_us"), "3000");
    assert_eq!(cell(&h, sse, "latency_p50_us_min"), "2500");
    assert_eq!(cell(&h, sse, "latency_p50_us_max"), "3600");
    assert_eq!(cell(&h, sse, "latency_p99_us_max"), "9500");
    assert_eq!(cell(&h, sse, "server_cpu_ms_per_1k_msgs_min"), "4.2");
    assert_eq!(cell(&h, sse, "server_rss_per_conn_bytes_max"), "12000");
    assert_eq!(cell(&h, sse, "latency_p999_us_min"), "");
    let ws = row(&h, &rows, "ws");
    assert_eq!(cell(&h, ws, "lost_max"), "");
    let (h, rows) = read_csv(&dir.join("timeseries.csv"));
    assert_eq!(h.last().map(String::as_str), Some("repetition"));
    let reps: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| cell(&h, r, "repetition")).collect();
    assert_eq!(reps.into_iter().collect::<Vec<_>>(), ["1", "2", "3"]);
}

#[test]
fn charts_are_written_and_draw_the_whiskers() {
    render("repeat-charts", repeated(), 3);
    render("repeat-charts-once", once(), 1);
    for file in [
        "latency_percentiles.png",
        "server_cost.png",
        "bytes_per_message.png",
        "requests_per_message.png",
        "over_time.png",
    ] {
        let with = fs::read(report("repeat-charts").join(file)).unwrap();
        let img = image::load_from_memory(&with).unwrap();
        assert_eq!((img.width(), img.height()), (1600, 1000), "{file}");
        let without = fs::read(report("repeat-charts-once").join(file)).unwrap();
        // Requests per message has no range in this run: only the others gain whiskers.
        if file != "requests_per_message.png" {
            assert_ne!(with, without, "{file}: the repeated run drew nothing more");
        }
    }
}

#[test]
fn a_run_measured_once_renders_as_before() {
    let html = render("repeat-none", once(), 1);
    assert!(
        !html.contains("repetitions"),
        "a run of one mentions repetitions"
    );
    assert!(!html.contains("min–max"));
    assert!(html.contains("<td>3.00 ms</td>"));
    let dir = report("repeat-none");
    let (h, _) = read_csv(&dir.join("techniques.csv"));
    let usual: Vec<&str> = reports::csv_out::SUMMARY_COLUMNS
        .iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(h, usual);
    let (h, _) = read_csv(&dir.join("timeseries.csv"));
    assert!(!h.iter().any(|c| c == "repetition"));
}
