//! A capacity plan (`pushbench plan`, docs/CAPACITY.md): the file formats of `plan.json` and
//! `plan.csv` (one definition, written by the load generator), and `plan.html`, the page that
//! states the question, the answer per technique with every extrapolated figure labelled, the
//! fits' quality and the assumptions.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::ReportError;
use crate::fmt;
use crate::html::esc;
use crate::html::swatch;
use crate::sweep::html::page_head;

/// `format` of plan.json.
pub const FORMAT: &str = "pushbench-plan";

/// The question a plan answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanTarget {
    pub clients: u64,
    /// Messages per second each client receives.
    pub rate: f64,
    pub payload_bytes: u64,
    /// Cores of one machine.
    pub machine_cores: f64,
    /// Memory of one machine, bytes.
    pub machine_memory_bytes: f64,
    /// Where the machine figures came from (`the sweep's machine` or `--machine-*`).
    pub machine_source: String,
}

/// The answer for one technique: a row of plan.csv (columns are these field names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanRow {
    pub technique: String,
    /// Largest client count that met the objective on the measured machine.
    pub knee_clients: Option<u64>,
    /// True when no step broke the objective: the real limit is higher than the knee.
    pub knee_is_lower_bound: bool,
    /// Machines needed (None: unknown, no step met the objective).
    pub machines: Option<u64>,
    /// What decides the machine count: `knee`, `cpu`, `memory` or `unknown`.
    pub limited_by: String,
    /// Server cores needed in all (busy cores, per-machine base included).
    pub cores: f64,
    /// Server memory needed in all, bytes (per-machine base included).
    pub memory_bytes: f64,
    /// Bytes per second the servers write (to clients) / read (from clients).
    pub bandwidth_down_bytes_per_s: f64,
    pub bandwidth_up_bytes_per_s: f64,
    /// HTTP requests per second the servers answer (each poll, long poll, (re)connect).
    pub requests_per_s: f64,
    pub memory_per_connection_bytes: f64,
    /// Server CPU seconds per `cpu_unit`.
    pub cpu_core_s_per_unit: f64,
    /// `message` (delivered) or `request` (short poll).
    pub cpu_unit: String,
    pub memory_r2: Option<f64>,
    pub cpu_r2: Option<f64>,
    /// Sweep steps the fits used.
    pub points_used: usize,
    pub measured_clients_min: u64,
    pub measured_clients_max: u64,
    /// Figures resting on an extrapolation, space-separated (`memory cores bandwidth
    /// requests`); empty when every figure lies inside the measured range.
    pub extrapolated: String,
    /// Caveats for this technique, `; `-separated.
    pub notes: String,
    /// The broker row (a sweep run with `run --broker`; docs/CAPACITY.md); null otherwise.
    /// The broker's kind, `redis` or `nats`.
    #[serde(default)]
    pub broker_kind: Option<String>,
    /// Broker CPU-seconds per (publish × server instance), least squares through the origin.
    #[serde(default)]
    pub broker_core_s_per_publish_instance: Option<f64>,
    /// Sweep steps the broker fit used.
    #[serde(default)]
    pub broker_fit_points: Option<usize>,
    /// Messages published into the broker per second at the target.
    #[serde(default)]
    pub broker_publishes_per_s: Option<f64>,
    /// Server instances the broker feeds at the target (machines × instances per machine).
    #[serde(default)]
    pub broker_instances: Option<u64>,
    /// Messages the broker handles per second at the target: publishes in plus one copy out
    /// per instance.
    #[serde(default)]
    pub broker_messages_per_s: Option<f64>,
    /// Broker cores needed at the target.
    #[serde(default)]
    pub broker_cores: Option<f64>,
    /// Whether one broker holds it, in words.
    #[serde(default)]
    pub broker_verdict: Option<String>,
}

impl PlanRow {
    /// Whether the figure `name` is extrapolated.
    pub fn is_extrapolated(&self, name: &str) -> bool {
        self.extrapolated.split_whitespace().any(|f| f == name)
    }
}

/// A technique that could not be planned, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub technique: String,
    pub reason: String,
}

/// plan.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanDoc {
    pub format: String,
    pub format_version: u64,
    pub sweep_dir: String,
    pub target: PlanTarget,
    pub assumptions: Vec<String>,
    pub rows: Vec<PlanRow>,
    pub skipped: Vec<Skipped>,
}

/// Writes plan.json, plan.csv and plan.html into `dir`; returns the paths.
pub fn write_all(dir: &Path, doc: &PlanDoc) -> Result<Vec<PathBuf>, ReportError> {
    let json = dir.join("plan.json");
    let text = serde_json::to_string_pretty(doc).map_err(|e| ReportError::parse(&json, e))?;
    std::fs::write(&json, text + "\n").map_err(|e| ReportError::io(&json, e))?;
    let csv_path = dir.join("plan.csv");
    // Every row has every column (the broker's are empty without a broker row: null in JSON).
    let mut w = csv::Writer::from_path(&csv_path).map_err(|e| ReportError::parse(&csv_path, e))?;
    for r in &doc.rows {
        w.serialize(r)
            .map_err(|e| ReportError::parse(&csv_path, e))?;
    }
    w.flush().map_err(|e| ReportError::io(&csv_path, e))?;
    let html = dir.join("plan.html");
    // The sweep's page sits beside the plan when the plan was written into the sweep.
    let link = dir.join("sweep.json").is_file().then_some("index.html");
    std::fs::write(&html, render(doc, link)).map_err(|e| ReportError::io(&html, e))?;
    Ok(vec![csv_path, json, html])
}

/// A figure, labelled when extrapolated.
fn fig(row: &PlanRow, name: &str, text: String) -> String {
    if row.is_extrapolated(name) {
        format!("{} <span class=\"x\">extrapolated</span>", esc(&text))
    } else {
        esc(&text)
    }
}

/// A rate per second with a unit: `1.2 M/s`.
pub fn per_s(v: f64) -> String {
    if v >= 1e9 {
        format!("{} G/s", fmt::sig(v / 1e9))
    } else if v >= 1e6 {
        format!("{} M/s", fmt::sig(v / 1e6))
    } else if v >= 1e3 {
        format!("{} k/s", fmt::sig(v / 1e3))
    } else {
        format!("{}/s", fmt::sig(v))
    }
}

/// Bits per second: `2.3 Gbit/s`.
pub fn bits_per_s(bytes_per_s: f64) -> String {
    let b = bytes_per_s * 8.0;
    if b >= 1e9 {
        format!("{} Gbit/s", fmt::sig(b / 1e9))
    } else if b >= 1e6 {
        format!("{} Mbit/s", fmt::sig(b / 1e6))
    } else {
        format!("{} kbit/s", fmt::sig(b / 1e3))
    }
}

/// Renders plan.html; `sweep_page` is the sweep page's relative address, when there is one.
pub fn render(doc: &PlanDoc, sweep_page: Option<&str>) -> String {
    let t = &doc.target;
    let mut h = page_head("pushbench capacity plan");
    let _ = writeln!(
        h,
        "<p><b>{} clients</b>, each receiving <b>{} message(s)/s</b> of <b>{} B</b> payload, on \
         machines of <b>{} cores</b> and <b>{}</b> ({}). From the sweep <code>{}</code>{}.</p>",
        fmt::count(t.clients),
        fmt::sig(t.rate),
        t.payload_bytes,
        fmt::sig(t.machine_cores),
        fmt::bytes(t.machine_memory_bytes),
        esc(&t.machine_source),
        esc(&doc.sweep_dir),
        sweep_page
            .map(|p| format!(" (<a href=\"{}\">its page</a>)", esc(p)))
            .unwrap_or_default(),
    );
    h.push_str(
        "<h2>Answer per technique</h2>\n<table>\n<tr><th class=\"l\">technique</th>\
         <th>machines</th><th class=\"l\">limited by</th><th>knee (clients/machine)</th>\
         <th>server cores</th><th>server memory</th><th>bandwidth to clients</th>\
         <th>bandwidth from clients</th><th>requests/s</th></tr>\n",
    );
    for r in &doc.rows {
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td>{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            swatch(&r.technique),
            fig(r, "machines", fmt::opt(r.machines, fmt::count)),
            esc(&r.limited_by),
            match r.knee_clients {
                Some(k) if r.knee_is_lower_bound => format!("≥ {}", fmt::count(k)),
                Some(k) => fmt::count(k),
                None => "none".into(),
            },
            fig(r, "cores", fmt::sig(r.cores)),
            fig(r, "memory", fmt::bytes(r.memory_bytes)),
            fig(r, "bandwidth", bits_per_s(r.bandwidth_down_bytes_per_s)),
            fig(r, "bandwidth", bits_per_s(r.bandwidth_up_bytes_per_s)),
            fig(r, "requests", per_s(r.requests_per_s)),
        );
    }
    h.push_str("</table>\n");
    for s in &doc.skipped {
        let _ = writeln!(
            h,
            "<div class=\"banner\">{}: not planned: {}</div>",
            swatch(&s.technique),
            esc(&s.reason)
        );
    }
    h.push_str(
        "<h2>Fitted costs and their quality</h2>\n<table>\n<tr><th class=\"l\">technique</th>\
         <th>memory per connection</th><th>R²</th><th>server CPU</th><th>R²</th>\
         <th>steps used</th><th>measured clients</th><th class=\"l\">notes</th></tr>\n",
    );
    let r2 = |v: Option<f64>| fmt::opt(v, |v| format!("{v:.3}"));
    for r in &doc.rows {
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{} µs per {}</td><td>{}</td>\
             <td>{}</td><td>{} – {}</td><td class=\"l\">{}</td></tr>",
            swatch(&r.technique),
            fmt::bytes(r.memory_per_connection_bytes),
            r2(r.memory_r2),
            fmt::sig(r.cpu_core_s_per_unit * 1e6),
            esc(&r.cpu_unit),
            r2(r.cpu_r2),
            r.points_used,
            fmt::count(r.measured_clients_min),
            fmt::count(r.measured_clients_max),
            esc(&r.notes),
        );
    }
    h.push_str("</table>\n");
    broker_table(doc, &mut h);
    h.push_str("<h2>Assumptions</h2>\n<ul>\n");
    for a in &doc.assumptions {
        let _ = writeln!(h, "<li>{}</li>", esc(a));
    }
    h.push_str(
        "</ul>\n<p class=\"sub\">All rows: <a href=\"plan.csv\">plan.csv</a>, \
         <a href=\"plan.json\">plan.json</a>.</p>\n</main>\n</body>\n</html>\n",
    );
    h
}

/// The broker row of each technique (a sweep run with `--broker`); nothing without one.
fn broker_table(doc: &PlanDoc, h: &mut String) {
    if doc.rows.iter().all(|r| r.broker_kind.is_none()) {
        return;
    }
    h.push_str(
        "<h2>Broker</h2>\n<p class=\"sub\">The broker's CPU is a separate resource: every \
         message is stored once and sent to every server instance, so its work is fitted per \
         (publish × instance) and scaled to the target's publishes and the instances sized \
         above.</p>\n<table>\n<tr><th class=\"l\">technique</th><th class=\"l\">broker</th>\
         <th>CPU per publish × instance</th><th>steps</th><th>publishes</th><th>instances</th>\
         <th>broker messages</th><th>broker cores</th><th class=\"l\">verdict</th></tr>\n",
    );
    for r in doc.rows.iter().filter(|r| r.broker_kind.is_some()) {
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td></tr>",
            swatch(&r.technique),
            esc(r.broker_kind.as_deref().unwrap_or("")),
            fmt::opt(r.broker_core_s_per_publish_instance, |v| format!(
                "{} µs",
                fmt::sig(v * 1e6)
            )),
            fmt::opt(r.broker_fit_points, |n| n.to_string()),
            fmt::opt(r.broker_publishes_per_s, per_s),
            fmt::opt(r.broker_instances, fmt::count),
            fmt::opt(r.broker_messages_per_s, per_s),
            fmt::opt(r.broker_cores, fmt::sig),
            esc(r.broker_verdict.as_deref().unwrap_or("")),
        );
    }
    h.push_str("</table>\n");
}
