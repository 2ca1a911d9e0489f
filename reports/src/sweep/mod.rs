//! A sweep directory (`pushbench sweep`, docs/CAPACITY.md): the file formats of `sweep.json`
//! and `sweep.csv` (one definition, written by the load generator and read here), and the
//! sweep's report: charts of p99 latency, server CPU and server memory against clients with
//! each technique's knee marked ([`charts`]), and `index.html` ([`html`]).
//!
//! ```text
//! sweeps/20261125-200102/
//!   sweep.json   parameters, objective, steps, knee and what broke each technique
//!   sweep.csv    one row per technique × step
//!   sweep_p99.png, sweep_server_cpu.png, sweep_server_memory.png
//!   request_events_per_s.png, request_ttft_p99.png
//!                events/s and TTFT p99 against concurrency, in a request sweep ([`request`])
//!   sweep_rtt.csv  a sweep over links (`--links`): technique × link, measured and expected p50
//!   sweep_rtt_p50.png, sweep_rtt_p99.png, sweep_rtt_requests.png, sweep_rtt_bytes.png
//!                  the same against the link's RTT ([`rtt`], [`rtt_charts`], [`rtt_html`])
//!   index.html   the knee per technique and what broke it; links each step's report
//!   <technique>-<clients>/   each step: a normal run directory (docs/RUN_FORMAT.md)
//! ```

pub mod charts;
pub mod html;
pub mod instances;
pub mod request;
pub mod row;
pub mod rtt;
pub mod rtt_charts;
pub mod rtt_html;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::ReportError;
pub use row::{STEP_COLUMNS, StepRow};

/// Why a sweep directory could not be read or its report written.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("{path}: not a pushbench sweep directory ({reason})")]
    NotASweep { path: PathBuf, reason: String },
    #[error(
        "{path}: sweep format version {found} is newer than this pushbench reads ({supported})"
    )]
    FormatTooNew {
        path: PathBuf,
        found: u64,
        supported: u64,
    },
    #[error(transparent)]
    Report(#[from] ReportError),
}

/// `format` of sweep.json.
pub const FORMAT: &str = "pushbench-sweep";
/// `format_version` of sweep.json.
pub const FORMAT_VERSION: u64 = 1;

/// The service-level objective a step must meet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slo {
    /// Largest p99 publish-to-receive latency, µs.
    pub p99_us: u64,
    /// Most messages a step may lose.
    pub max_lost: u64,
    /// Most errors (of any kind) a step may count.
    pub max_errors: u64,
    /// A request sweep's (`--mode request`) largest p99 time to first event, µs (absent: no
    /// such objective; never written in a broadcast sweep).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_p99_us: Option<u64>,
    /// A request sweep's largest p99 gap between two events of a stream, µs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub itl_p99_us: Option<u64>,
}

/// How one technique's sweep ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub technique: String,
    /// The link this outcome is for, in a sweep over links (`None` without a link axis).
    #[serde(default)]
    pub link: Option<String>,
    /// The instance count this outcome is for, in an instance sweep (`--instances`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instances: Option<u64>,
    /// Largest client count that met the objective (None: no step met it).
    pub knee_clients: Option<u64>,
    /// The client count at which the technique stopped (a step that broke the objective, or
    /// one the machine had no room for); None when every step met it.
    pub broke_at: Option<u64>,
    /// What stopped it: the objective missed (`p99 ... over ...`, `lost ...`, `errors ...`),
    /// `out of descriptors: ...`, `out of ports: ...`, `out of memory: ...`, the run failing,
    /// or `interrupted`. None when every step met the objective (the knee is then a lower bound).
    pub broke_reason: Option<String>,
}

/// The machine the sweep ran on (from the load generator's view).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SweepMachine {
    pub cpu_model: Option<String>,
    pub cores: Option<u64>,
    pub memory_bytes: Option<u64>,
    /// Open-file limit of one process.
    pub fd_limit: Option<u64>,
    /// Ephemeral ports per source address (ip_local_port_range).
    pub ephemeral_ports: Option<u64>,
}

/// sweep.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepDoc {
    pub format: String,
    pub format_version: u64,
    /// True when the sweep was cut short (Ctrl-C) or is still running.
    pub partial: bool,
    pub failure: Option<String>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub command_line: Vec<String>,
    pub slo: Slo,
    /// Techniques, in the order swept.
    pub techniques: Vec<String>,
    /// Client counts tried, in order (a technique stops at its first break).
    pub clients: Vec<u64>,
    /// Links tried (`sweep --links`), in order, as labels; empty when the sweep had no link
    /// axis (every step then has the run's one link).
    #[serde(default)]
    pub links: Vec<String>,
    /// Server instance counts tried (`sweep --instances`), in order; empty when the sweep
    /// grows clients instead (every step then runs the run's `--server-processes`).
    #[serde(default)]
    pub instances: Vec<u64>,
    /// The run options every step shares (as in a run's manifest `params`).
    pub run_params: serde_json::Value,
    pub machine: SweepMachine,
    pub steps: Vec<StepRow>,
    pub outcomes: Vec<Outcome>,
}

impl SweepDoc {
    /// The steps of one technique, by client count.
    pub fn steps_of(&self, technique: &str) -> Vec<&StepRow> {
        let mut v: Vec<&StepRow> = self
            .steps
            .iter()
            .filter(|s| s.technique == technique)
            .collect();
        v.sort_by_key(|s| s.clients);
        v
    }
    pub fn outcome(&self, technique: &str) -> Option<&Outcome> {
        self.outcomes.iter().find(|o| o.technique == technique)
    }
}

/// The largest client count among `steps` that met the objective.
pub fn knee(steps: &[&StepRow]) -> Option<u64> {
    steps.iter().filter(|s| s.slo_met).map(|s| s.clients).max()
}

/// Reads `sweep.json` of a sweep directory.
pub fn load(dir: &Path) -> Result<SweepDoc, SweepError> {
    let path = dir.join("sweep.json");
    if !path.is_file() {
        return Err(SweepError::NotASweep {
            path: dir.to_path_buf(),
            reason: "no sweep.json; write one with `pushbench sweep`".into(),
        });
    }
    let text = std::fs::read_to_string(&path).map_err(|e| ReportError::io(&path, e))?;
    let doc: SweepDoc = serde_json::from_str(&text).map_err(|e| SweepError::NotASweep {
        path: dir.to_path_buf(),
        reason: format!("sweep.json does not parse: {e}"),
    })?;
    if doc.format != FORMAT {
        return Err(SweepError::NotASweep {
            path: dir.to_path_buf(),
            reason: format!(
                "sweep.json has format {:?}, expected {FORMAT:?}",
                doc.format
            ),
        });
    }
    if doc.format_version > FORMAT_VERSION {
        return Err(SweepError::FormatTooNew {
            path,
            found: doc.format_version,
            supported: FORMAT_VERSION,
        });
    }
    Ok(doc)
}

/// Reads `sweep.csv` (the rows a planner uses).
pub fn load_csv(dir: &Path) -> Result<Vec<StepRow>, SweepError> {
    let path = dir.join("sweep.csv");
    if !path.is_file() {
        return Err(SweepError::NotASweep {
            path: dir.to_path_buf(),
            reason: "no sweep.csv; write one with `pushbench sweep`".into(),
        });
    }
    let mut r = csv::Reader::from_path(&path).map_err(|e| ReportError::parse(&path, e))?;
    r.deserialize()
        .map(|row| row.map_err(|e| ReportError::parse(&path, e).into()))
        .collect()
}

/// Writes sweep.json and sweep.csv (the CSV first: a reader of sweep.json finds both).
pub fn write_data(dir: &Path, doc: &SweepDoc) -> Result<(), ReportError> {
    let csv_path = dir.join("sweep.csv");
    let mut w = csv::Writer::from_path(&csv_path).map_err(|e| ReportError::parse(&csv_path, e))?;
    if doc.steps.is_empty() {
        // Headers only, so the file still names its columns.
        w.write_record(STEP_COLUMNS)
            .map_err(|e| ReportError::parse(&csv_path, e))?;
    }
    for s in &doc.steps {
        w.serialize(s)
            .map_err(|e| ReportError::parse(&csv_path, e))?;
    }
    w.flush().map_err(|e| ReportError::io(&csv_path, e))?;
    let json_path = dir.join("sweep.json");
    let text = serde_json::to_string_pretty(doc).map_err(|e| ReportError::parse(&json_path, e))?;
    std::fs::write(&json_path, text + "\n").map_err(|e| ReportError::io(&json_path, e))
}

/// What the sweep report wrote.
#[derive(Debug, Clone)]
pub struct SweepReport {
    pub index: PathBuf,
    pub charts: Vec<PathBuf>,
}

/// Writes the data files, the charts and index.html of a sweep into `dir`.
pub fn write_all(dir: &Path, doc: &SweepDoc) -> Result<SweepReport, SweepError> {
    write_data(dir, doc)?;
    write_report(dir, doc)
}

/// Draws the charts and index.html of a sweep already written (or loaded) into `dir`; for a
/// sweep over links also `sweep_rtt.csv` and the charts against RTT.
pub fn write_report(dir: &Path, doc: &SweepDoc) -> Result<SweepReport, SweepError> {
    let (mut drawn, links) = if rtt::has_link_axis(doc) {
        let (drawn, section) = link_outputs(dir, doc)?;
        (drawn, Some(section))
    } else if instances::is_instance_sweep(doc) {
        (instances::draw_all(doc, dir)?, None)
    } else {
        (charts::draw_all(doc, dir)?, None)
    };
    // A request sweep: events/s and TTFT p99 against concurrency.
    let points = request::points(dir, doc);
    if !points.is_empty() {
        drawn.extend(crate::charts::concurrency::draw(&points, dir, "each step")?);
    }
    let page = html::render(dir, doc, &drawn, links.as_ref());
    let index = dir.join("index.html");
    std::fs::write(&index, page).map_err(|e| ReportError::io(&index, e))?;
    Ok(SweepReport {
        index,
        charts: drawn.iter().map(|c| dir.join(&c.file)).collect(),
    })
}

/// The outputs of a sweep over links: `sweep_rtt.csv`, the charts against RTT (when the links
/// differ in RTT), and the client-count charts only when the sweep also varies clients (drawn
/// from the steps on its first link: with one client count each technique would be a single
/// point on them, so they are left out).
fn link_outputs(
    dir: &Path,
    doc: &SweepDoc,
) -> Result<(Vec<crate::charts::Chart>, html::LinkSection), SweepError> {
    let rows = rtt::rows(doc);
    rtt::write_csv(dir, &rows)?;
    let mut drawn = Vec::new();
    if rtt::is_rtt_sweep(doc) {
        drawn.extend(rtt_charts::draw_all(&rows, dir)?);
    }
    let mut counts: Vec<u64> = doc.steps.iter().map(|s| s.clients).collect();
    counts.sort_unstable();
    counts.dedup();
    let at = rtt::client_count(doc).unwrap_or(0);
    let note = if counts.len() > 1 {
        let first = doc
            .steps
            .first()
            .map(|s| s.link.clone())
            .unwrap_or_default();
        let mut one = doc.clone();
        one.steps.retain(|s| s.link == first);
        drawn.extend(charts::draw_all(&one, dir)?);
        format!(
            "This sweep varies clients as well as the link: the table and the charts against \
             RTT show the steps at {} clients; the charts against clients show the steps on \
             link {first}.",
            crate::fmt::count(at)
        )
    } else {
        format!(
            "Every step ran {} clients, so the charts against clients (one point per \
             technique) are not drawn{}.",
            crate::fmt::count(at),
            if rtt::is_rtt_sweep(doc) {
                "; the charts against RTT take their place"
            } else {
                ", nor charts against RTT: every link has the same RTT"
            }
        )
    };
    Ok((
        drawn,
        html::LinkSection {
            rows,
            note: Some(note),
        },
    ))
}
