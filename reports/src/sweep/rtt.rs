//! A sweep over links (`pushbench sweep --links ...`): one row per technique × link with the
//! measured p50 / p99, the expected p50 from the settings ([`crate::expect`]), how far the
//! measurement departs from it and whether that is flagged, and requests and bytes per
//! delivered message. Written as `sweep_rtt.csv`, shown as a table on the sweep's page
//! ([`super::rtt_html`]) and drawn against RTT ([`super::rtt_charts`]).
//!
//! The expected value at a link adds the technique's loopback floor, its measured p50 at RTT 0
//! above the model's (when the sweep has that step): the model describes what the link adds,
//! the floor what this machine takes without one.
//!
//! A sweep that also varies clients is read at one client count: the one with the most steps
//! (the largest on a tie), so each technique has one point per link.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{StepRow, SweepDoc};
use crate::colors;
use crate::error::ReportError;
use crate::expect::{self, Expected, Link, Settings};
use crate::link;

/// The file the rows are written to, in the sweep directory.
pub const CSV_FILE: &str = "sweep_rtt.csv";

/// One technique at one link.
#[derive(Debug, Clone, PartialEq)]
pub struct RttRow {
    pub technique: String,
    /// The link's label (`rtt=100ms`, `fast-3g`, `none`).
    pub link: String,
    pub rtt_ms: f64,
    pub clients: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// `None` when a setting the model needs is unknown. Includes [`RttRow::floor_ms`].
    pub expected: Option<Expected>,
    /// The technique's loopback floor added to the model: its measured p50 at RTT 0 above
    /// the model's value there (the machine's own processing and fan-out, which the model
    /// leaves out). `None` on the RTT-0 step itself, when the sweep has no RTT-0 step for
    /// the technique, or when the model gives a range there.
    pub floor_ms: Option<f64>,
    /// Signed share outside the expected range (0 inside; `None` when unknown or the
    /// expected value is 0).
    pub departure: Option<f64>,
    pub flagged: bool,
    pub requests_per_msg: Option<f64>,
    /// Bytes read by the clients per delivered message.
    pub bytes_down_per_msg: Option<f64>,
}

/// Whether the sweep has a link axis: several links tried, or steps on different links.
pub fn has_link_axis(doc: &SweepDoc) -> bool {
    let mut labels: Vec<&str> = doc.steps.iter().map(|s| s.link.as_str()).collect();
    labels.sort_unstable();
    labels.dedup();
    doc.links.len() > 1 || labels.len() > 1
}

/// Whether the steps span more than one RTT (so there is something to draw against RTT).
pub fn is_rtt_sweep(doc: &SweepDoc) -> bool {
    let mut rtts: Vec<u64> = doc.steps.iter().map(|s| s.link_rtt_us).collect();
    rtts.sort_unstable();
    rtts.dedup();
    rtts.len() > 1
}

/// The client count the link table is read at: the one with the most steps, the largest on a
/// tie. `None` without steps.
pub fn client_count(doc: &SweepDoc) -> Option<u64> {
    let mut counts: Vec<(usize, u64)> = Vec::new();
    for s in &doc.steps {
        match counts.iter_mut().find(|c| c.1 == s.clients) {
            Some(c) => c.0 += 1,
            None => counts.push((1, s.clients)),
        }
    }
    counts.into_iter().max().map(|c| c.1)
}

/// The settings every step shares, from `run_params`, with the step's own rate and payload.
fn settings(doc: &SweepDoc, step: &StepRow) -> Settings {
    let param = |k: &str| doc.run_params.get(k).and_then(serde_json::Value::as_f64);
    let rate = Some(step.rate).filter(|r| *r > 0.0).or(param("rate"));
    let payload = Some(step.payload_bytes as f64)
        .filter(|b| *b > 0.0)
        .or(param("payload_bytes"));
    Settings {
        rate_per_s: rate,
        poll_interval_ms: param("poll_interval_ms"),
        payload_bytes: payload,
        publisher_one_way_ms: link::publisher_from_value(&doc.run_params)
            .map_or(0.0, |l| l.rtt_ms / 2.0 + l.jitter_ms / 2.0),
        start_spread_ms: param("ramp_up_per_s")
            .filter(|r| *r > 0.0)
            .map(|r| step.clients as f64 / r * 1000.0),
    }
}

/// The step's link: its label read back, with the RTT from `link_rtt_us` (the number rules).
fn step_link(step: &StepRow) -> Link {
    let rtt_ms = step.link_rtt_us as f64 / 1000.0;
    match link::parse_label(&step.link) {
        Some(l) => Link {
            rtt_ms,
            ..Link::from(&l)
        },
        None => Link::rtt(rtt_ms),
    }
}

fn per_msg(v: u64, delivered: u64) -> Option<f64> {
    (delivered > 0).then(|| v as f64 / delivered as f64)
}

/// One row from one step.
pub fn row(doc: &SweepDoc, step: &StepRow) -> RttRow {
    let link = step_link(step);
    let expected = expect::p50(&step.technique, &link, &settings(doc, step));
    let p50_ms = step.p50_us.map(|v| v as f64 / 1000.0);
    let (departure, flagged) = judge(p50_ms, expected);
    RttRow {
        technique: step.technique.clone(),
        link: step.link.clone(),
        rtt_ms: link.rtt_ms,
        clients: step.clients,
        p50_ms,
        p99_ms: step.p99_us.map(|v| v as f64 / 1000.0),
        expected,
        floor_ms: None,
        departure,
        flagged,
        requests_per_msg: per_msg(step.requests, step.delivered),
        bytes_down_per_msg: per_msg(step.bytes_down, step.delivered),
    }
}

/// The departure and flag of a measured p50 against an expected one.
fn judge(p50_ms: Option<f64>, expected: Option<Expected>) -> (Option<f64>, bool) {
    match (p50_ms, expected) {
        (Some(m), Some(e)) => (expect::departure(m, &e), expect::flagged(m, &e)),
        _ => (None, false),
    }
}

/// Adds each technique's loopback floor (its RTT-0 step's p50 above the model) to its
/// expected value at every other RTT, and judges those steps again. The RTT-0 step itself is
/// judged against the bare model, so a technique off the model on loopback is flagged there,
/// once, and its other steps show whether the link adds what the model says.
fn apply_floors(rows: &mut [RttRow]) {
    let floors: Vec<(String, f64)> = rows
        .iter()
        .filter(|r| r.rtt_ms == 0.0)
        .filter_map(|r| {
            // Within a range the distance from the model is not the machine's.
            let e = r.expected.filter(|e| !e.is_range())?;
            let floor = r.p50_ms? - e.point_ms();
            Some((r.technique.clone(), floor.max(0.0)))
        })
        .collect();
    for r in rows.iter_mut().filter(|r| r.rtt_ms > 0.0) {
        let Some(floor) = floors.iter().find(|f| f.0 == r.technique).map(|f| f.1) else {
            continue;
        };
        r.floor_ms = Some(floor);
        r.expected = r.expected.map(|e| e.plus(floor));
        (r.departure, r.flagged) = judge(r.p50_ms, r.expected);
    }
}

/// The rows of the sweep at its [`client_count`], by technique (canonical order) then RTT.
pub fn rows(doc: &SweepDoc) -> Vec<RttRow> {
    let Some(clients) = client_count(doc) else {
        return Vec::new();
    };
    let mut v: Vec<RttRow> = doc
        .steps
        .iter()
        .filter(|s| s.clients == clients)
        .map(|s| row(doc, s))
        .collect();
    v.sort_by(|a, b| {
        colors::order_key(&a.technique)
            .cmp(&colors::order_key(&b.technique))
            .then(a.rtt_ms.total_cmp(&b.rtt_ms))
    });
    apply_floors(&mut v);
    v
}

/// A row of `sweep_rtt.csv` (column names are these field names; empty cell = unknown).
#[derive(Serialize)]
struct CsvRow<'a> {
    technique: &'a str,
    link: &'a str,
    rtt_ms: f64,
    clients: u64,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    expected_p50_ms: Option<f64>,
    expected_p50_lo_ms: Option<f64>,
    expected_p50_hi_ms: Option<f64>,
    loopback_floor_ms: Option<f64>,
    departure_pct: Option<f64>,
    flagged: bool,
    requests_per_msg: Option<f64>,
    bytes_down_per_msg: Option<f64>,
}

/// The columns of `sweep_rtt.csv`, in order.
pub const CSV_COLUMNS: [&str; 14] = [
    "technique",
    "link",
    "rtt_ms",
    "clients",
    "p50_ms",
    "p99_ms",
    "expected_p50_ms",
    "expected_p50_lo_ms",
    "expected_p50_hi_ms",
    "loopback_floor_ms",
    "departure_pct",
    "flagged",
    "requests_per_msg",
    "bytes_down_per_msg",
];

/// Rounds to 4 significant decimals' worth, so the file reads cleanly.
fn round(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

/// Writes `sweep_rtt.csv` into `dir`.
pub fn write_csv(dir: &Path, rows: &[RttRow]) -> Result<PathBuf, ReportError> {
    let path = dir.join(CSV_FILE);
    let err = |e: csv::Error| ReportError::parse(&path, e);
    let mut w = csv::Writer::from_path(&path).map_err(err)?;
    if rows.is_empty() {
        w.write_record(CSV_COLUMNS).map_err(err)?;
    }
    for r in rows {
        w.serialize(CsvRow {
            technique: &r.technique,
            link: &r.link,
            rtt_ms: round(r.rtt_ms),
            clients: r.clients,
            p50_ms: r.p50_ms.map(round),
            p99_ms: r.p99_ms.map(round),
            expected_p50_ms: r.expected.map(|e| round(e.point_ms())),
            expected_p50_lo_ms: r.expected.map(|e| round(e.lo_ms)),
            expected_p50_hi_ms: r.expected.map(|e| round(e.hi_ms)),
            loopback_floor_ms: r.floor_ms.map(round),
            departure_pct: r.departure.map(|d| round(d * 100.0)),
            flagged: r.flagged,
            requests_per_msg: r.requests_per_msg.map(round),
            bytes_down_per_msg: r.bytes_down_per_msg.map(round),
        })
        .map_err(err)?;
    }
    w.flush().map_err(|e| ReportError::io(&path, e))?;
    Ok(path)
}

/// The link of a step as the report names it: the label, with the RTT beside a name that
/// does not show it (a preset).
pub fn link_name(r: &RttRow) -> String {
    let lower = r.link.trim().to_ascii_lowercase();
    let named = lower
        .split(',')
        .any(|i| link::PRESETS.iter().any(|p| p.0 == i));
    if named {
        format!("{} ({} ms)", r.link, crate::fmt::sig(r.rtt_ms))
    } else {
        r.link.clone()
    }
}
