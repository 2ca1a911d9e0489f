//! Turns pushbench run directories into CSV, PNG charts and an HTML page.
//!
//! Reports are drawn only from a run directory's files (docs/RUN_FORMAT.md), never from the load
//! generator's memory, so any old run can be redrawn. One module per output format:
//! [`load`] reads and validates a run ([`hlog`] its histograms, within bounds), [`csv_out`]
//! writes the CSV files, [`charts`] the PNG charts, [`html`] the page, with [`findings`] and
//! [`claims`] computing its sentences and its usual-claims table from the run's numbers.
//! [`link`] reads back the emulated link a run was measured over, and [`expect`] gives each
//! technique's expected latency over it (the sweep's RTT table and the link claims use both).
//! [`repeat`] reads a `--repeat N` run's min–max ranges (table cells, whiskers, CSV columns, and
//! no difference called where ranges overlap); [`servers`] compares the servers of several runs
//! technique by technique; [`recovery`] shows what injected faults cost each technique.
//! docs/REPORTS.md describes the outputs.
//!
//! Output layout, in the run directory (one run) or in `out` (a comparison):
//! ```text
//! index.html                       the page; opens from disk, no network
//! report/techniques.csv            one row per technique (per run, with a `run` column)
//! report/timeseries.csv            one row per second per technique
//! report/servers.csv               comparing: one row per technique per run (servers compared)
//! report/recovery.csv              with faults: one row per technique per run (recovery)
//! report/latency_percentiles.png   1. latency by percentile
//! report/bytes_per_message.png     2. bytes on the wire per delivered message
//! report/requests_per_message.png  3. requests per delivered message
//! report/server_cost.png           4. server CPU per message and memory per connection
//! report/over_time.png             5. delivered/s and connections over time
//!                                     (over_time_A.png, over_time_B.png... when comparing)
//! report/recovery.png              with faults: loss per 1,000 cuts and recovery time p99
//! ```

pub mod charts;
pub mod claims;
pub mod colors;
pub mod csv_out;
mod error;
pub mod expect;
pub mod findings;
pub mod fmt;
pub mod hlog;
pub mod html;
pub mod link;
pub mod load;
pub mod model;
pub mod plan_page;
pub mod recovery;
pub mod repeat;
pub mod request;
pub mod servers;
pub mod sweep;
pub mod transport;

use std::path::{Path, PathBuf};

pub use error::ReportError;
pub use model::{FORMAT_VERSION, Run};

/// The report's subdirectory (charts and CSV), relative to `index.html`.
pub const REPORT_DIR: &str = "report";

/// What was written.
#[derive(Debug, Clone)]
pub struct ReportOutput {
    /// The HTML page (`index.html`).
    pub index: PathBuf,
    /// Every file written (page, charts, CSV).
    pub files: Vec<PathBuf>,
    /// Whether any input run was partial (the page says so).
    pub partial: bool,
}

/// Writes the report of one run into that run directory (`index.html`, `report/`), or, for
/// several runs, a comparison into `out` (required then; also allowed for one run).
pub fn write_report(runs: &[PathBuf], out: Option<&Path>) -> Result<ReportOutput, ReportError> {
    if runs.is_empty() {
        return Err(ReportError::NoRuns);
    }
    let out = match (out, runs) {
        (Some(out), _) => out.to_path_buf(),
        (None, [one]) => one.clone(),
        (None, _) => return Err(ReportError::OutRequired(runs.len())),
    };
    let loaded = load::load_runs(runs)?;
    write_loaded(&loaded, &out)
}

/// Writes the report of runs already loaded into `out`.
pub fn write_loaded(runs: &[Run], out: &Path) -> Result<ReportOutput, ReportError> {
    if runs.is_empty() {
        return Err(ReportError::NoRuns);
    }
    let report_dir = out.join(REPORT_DIR);
    std::fs::create_dir_all(&report_dir).map_err(|e| ReportError::io(&report_dir, e))?;
    let mut files = csv_out::write(runs, &report_dir)?;
    let drawn = charts::draw_all(runs, &report_dir)?;
    files.extend(drawn.iter().map(|c| report_dir.join(&c.file)));
    let page = html::render(&html::Page {
        runs,
        charts: &drawn,
        report_dir: REPORT_DIR,
    });
    let index = out.join("index.html");
    std::fs::write(&index, page).map_err(|e| ReportError::io(&index, e))?;
    files.insert(0, index.clone());
    Ok(ReportOutput {
        index,
        files,
        partial: runs.iter().any(Run::partial),
    })
}
