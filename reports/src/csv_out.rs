//! The report's CSV files: `report/techniques.csv` (one row per technique, with the per-message
//! figures the charts show) and `report/timeseries.csv` (one row per second per technique).
//! In comparison mode both are merged across runs, with a leading `run` column.
//!
//! Plain RFC 4180 CSV, a header row, units in the column names, an empty cell for "unknown":
//! `pandas.read_csv` and spreadsheets read them as they are. Columns are documented in
//! docs/REPORTS.md and in [`SUMMARY_COLUMNS`] (a request run appends
//! [`crate::request::COLUMNS`]); `timeseries.csv` has the run directory's columns
//! ([`TimeseriesRow`]). Output depends only on the run directory, so a redraw gives
//! byte-identical files.

use std::path::{Path, PathBuf};

use crate::error::ReportError;
use crate::model::{Figures, Run, TechniqueSummary, TimeseriesRow};

/// The report's table of techniques. It was `report/summary.csv` until it was renamed, so that
/// it is not taken for the run directory's own `summary.csv` (a different file, unchanged).
pub const TECHNIQUES_CSV: &str = "techniques.csv";
/// The table's old name: a redraw removes a `report/summary.csv` an older version left.
pub const OLD_TECHNIQUES_CSV: &str = "summary.csv";

/// The columns of [`TECHNIQUES_CSV`] (after `run` in comparison mode) and what each means.
pub const SUMMARY_COLUMNS: [(&str, &str); 46] = [
    ("technique", "poll, long-poll, stream, sse or ws"),
    ("clients", "simulated clients of this technique"),
    ("topics", "topics the clients were spread over"),
    ("payload_bytes", "payload size of each message (bytes)"),
    ("duration_s", "steady-state window the counts cover (s)"),
    ("published", "messages published in the window (msgs)"),
    ("expected", "deliveries expected (msgs)"),
    ("delivered", "distinct expected messages received (msgs)"),
    ("lost", "expected - delivered (msgs)"),
    ("duplicates", "messages received again (msgs)"),
    ("out_of_order", "messages received after a later one (msgs)"),
    ("delivered_ratio", "delivered / expected (0..1)"),
    ("requests", "HTTP requests sent, every kind"),
    ("empty_responses", "answers with no message"),
    ("reconnects", "connections re-opened after the first"),
    ("requests_per_msg", "requests / delivered"),
    ("bytes_up", "bytes written by the clients (bytes)"),
    ("bytes_down", "bytes read by the clients (bytes)"),
    ("server_bytes_up", "bytes the server read (bytes)"),
    ("server_bytes_down", "bytes the server wrote (bytes)"),
    ("server_requests", "requests the server counted"),
    (
        "publish_failures",
        "publishes that failed (whole run, not only the window)",
    ),
    ("bytes_up_per_msg", "bytes_up / delivered (bytes)"),
    ("bytes_down_per_msg", "bytes_down / delivered (bytes)"),
    (
        "overhead_bytes_per_msg",
        "bytes both ways per message minus payload_bytes (bytes)",
    ),
    ("latency_count", "latencies recorded"),
    ("latency_min_us", "publish-to-receive latency, minimum (µs)"),
    ("latency_mean_us", "mean (µs)"),
    ("latency_p50_us", "median (µs)"),
    ("latency_p90_us", "90th percentile (µs)"),
    ("latency_p99_us", "99th percentile (µs)"),
    ("latency_p999_us", "99.9th percentile (µs)"),
    ("latency_max_us", "maximum (µs)"),
    ("connect_p50_ms", "connect + handshake, median (ms)"),
    (
        "connect_p99_ms",
        "connect + handshake, 99th percentile (ms)",
    ),
    (
        "first_message_p50_ms",
        "connect start to first message, median (ms)",
    ),
    ("server_cpu_s", "server CPU time in the window (s)"),
    (
        "server_cpu_ms_per_1k_msgs",
        "server CPU per 1,000 delivered messages (ms)",
    ),
    ("server_rss_bytes", "server resident memory, peak (bytes)"),
    (
        "server_rss_idle_bytes",
        "server resident memory before connecting (bytes)",
    ),
    (
        "server_rss_per_conn_bytes",
        "(peak - idle RSS) / clients (bytes)",
    ),
    ("loadgen_cpu_s", "load generator CPU time in the window (s)"),
    (
        "loadgen_rss_bytes",
        "load generator resident memory, peak (bytes)",
    ),
    ("errors_total", "client errors of every kind"),
    (
        "errors",
        "errors by kind with a count above 0, kind=count separated by ';'",
    ),
    ("failure", "why the measurement stopped early, if it did"),
];

fn int(v: Option<u64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// A raw float as read (shortest form that reads back exactly).
fn float(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// A derived float, rounded to 6 decimals so the file reads well and redraws identically.
fn derived(v: Option<f64>) -> String {
    v.map(|v| ((v * 1e6).round() / 1e6).to_string())
        .unwrap_or_default()
}

fn summary_row(t: &TechniqueSummary) -> Vec<String> {
    let l = &t.latency_us;
    let errors = t
        .errors
        .iter()
        .filter(|(_, v)| **v > 0)
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(";");
    vec![
        t.technique.name().to_string(),
        int(t.clients),
        int(t.topics),
        int(t.payload_bytes),
        float(t.duration_s),
        int(t.published),
        int(t.expected),
        int(t.delivered),
        int(t.lost),
        int(t.duplicates),
        int(t.out_of_order),
        derived(t.delivered_ratio()),
        int(t.requests),
        int(t.empty_responses),
        int(t.reconnects),
        derived(t.requests_per_msg()),
        int(t.bytes_up),
        int(t.bytes_down),
        int(t.server_bytes_up),
        int(t.server_bytes_down),
        int(t.server_requests),
        int(t.publish_failures),
        derived(t.bytes_up_per_msg()),
        derived(t.bytes_down_per_msg()),
        derived(t.overhead_per_msg()),
        int(l.count),
        int(l.min),
        float(l.mean),
        int(l.p50),
        int(l.p90),
        int(l.p99),
        int(l.p999),
        int(l.max),
        float(t.connect_ms.as_ref().and_then(|m| m.p50)),
        float(t.connect_ms.as_ref().and_then(|m| m.p99)),
        float(t.first_message_ms.as_ref().and_then(|m| m.p50)),
        float(t.server_cpu_s),
        derived(t.cpu_ms_per_1k_msgs()),
        int(t.server_rss_bytes),
        int(t.server_rss_idle_bytes),
        derived(t.rss_per_conn()),
        float(t.loadgen_cpu_s),
        int(t.loadgen_rss_bytes),
        t.errors_total().to_string(),
        errors,
        t.failure.clone().unwrap_or_default(),
    ]
}

/// [`TECHNIQUES_CSV`] as bytes. With `with_run`, a leading `run` column holds each run's label.
pub fn summary_csv(runs: &[Run], with_run: bool) -> Vec<u8> {
    // A repeated run appends the repetitions' min and max columns (add-only: a run measured
    // once keeps exactly the usual columns).
    let ranges = crate::repeat::any(runs);
    let extra = if ranges {
        crate::repeat::csv_header()
    } else {
        Vec::new()
    };
    // A request run appends its columns last (add-only: a broadcast run's file is unchanged).
    let request = crate::request::any(runs);
    let mut header: Vec<&str> = SUMMARY_COLUMNS.iter().map(|(c, _)| *c).collect();
    header.extend(extra.iter().map(String::as_str));
    if request {
        header.extend(crate::request::COLUMNS.iter().map(|(c, _)| *c));
    }
    let rows = runs.iter().flat_map(|r| {
        r.techniques.iter().map(move |t| {
            let mut row = summary_row(t);
            if ranges {
                row.extend(crate::repeat::csv_cells(t));
            }
            if request {
                row.extend(crate::request::csv_cells(t));
            }
            (r.label.as_str(), row)
        })
    });
    table(&mut header, rows, with_run)
}

/// `timeseries.csv` as bytes: every run's rows as its run directory holds them (the columns of
/// [`TimeseriesRow`]). With `with_run`, a leading `run` column holds each run's label.
pub fn timeseries_csv(runs: &[Run], with_run: bool) -> Vec<u8> {
    let columns = contract::run_dir::csv::columns::<TimeseriesRow>();
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    // Writing into a Vec cannot fail; the expects document that.
    let run_column = with_run.then_some("run");
    w.write_record(run_column.iter().chain(columns))
        .expect("write to memory");
    for r in runs {
        for p in &r.timeseries {
            if with_run {
                w.write_field(&r.label).expect("write to memory");
            }
            w.serialize(p).expect("write to memory");
        }
    }
    let bytes = w.into_inner().expect("flush to memory");
    let repeated = runs
        .iter()
        .any(|r| r.timeseries.iter().any(|p| p.repetition.is_some()));
    if repeated {
        bytes
    } else {
        without_column(&bytes, "repetition")
    }
}

/// `bytes` (CSV written above, so well-formed) without the column `name`: a run measured once
/// keeps the columns its timeseries.csv had before `--repeat` added one.
fn without_column(bytes: &[u8], name: &str) -> Vec<u8> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes);
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut drop = None;
    for rec in r.records().map_while(Result::ok) {
        let at = *drop.get_or_insert_with(|| rec.iter().position(|f| f == name));
        let kept = rec
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != at)
            .map(|(_, f)| f);
        w.write_record(kept).expect("write to memory");
    }
    w.into_inner().expect("flush to memory")
}

fn table<'a>(
    header: &mut Vec<&'a str>,
    rows: impl Iterator<Item = (&'a str, Vec<String>)>,
    with_run: bool,
) -> Vec<u8> {
    if with_run {
        header.insert(0, "run");
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing into a Vec cannot fail; the expects document that.
    w.write_record(header.iter()).expect("write to memory");
    for (run, mut row) in rows {
        if with_run {
            row.insert(0, run.to_string());
        }
        w.write_record(&row).expect("write to memory");
    }
    w.into_inner().expect("flush to memory")
}

/// Writes [`TECHNIQUES_CSV`] and `timeseries.csv` into `dir` (and removes the old name, see
/// [`OLD_TECHNIQUES_CSV`]); merged with a `run` column when there are several runs; with
/// several runs `servers.csv`, with faults `recovery.csv`. Returns the files written.
pub fn write(runs: &[Run], dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let with_run = runs.len() > 1;
    let mut written = Vec::new();
    for (name, bytes) in [
        (TECHNIQUES_CSV, summary_csv(runs, with_run)),
        ("timeseries.csv", timeseries_csv(runs, with_run)),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|e| ReportError::io(&path, e))?;
        written.push(path);
    }
    if with_run {
        let path = dir.join(crate::servers::SERVERS_CSV);
        std::fs::write(&path, crate::servers::csv(runs)).map_err(|e| ReportError::io(&path, e))?;
        written.push(path);
    }
    if crate::recovery::any(runs) {
        let path = dir.join(crate::recovery::RECOVERY_CSV);
        std::fs::write(&path, crate::recovery::csv(runs)).map_err(|e| ReportError::io(&path, e))?;
        written.push(path);
    }
    let old = dir.join(OLD_TECHNIQUES_CSV);
    match std::fs::remove_file(&old) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(ReportError::io(&old, e));
        }
        _ => {}
    }
    Ok(written)
}
