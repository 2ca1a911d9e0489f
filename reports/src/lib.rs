//! Turns pushbench run directories into CSV, PNG charts and an HTML page.
//!
//! (Interface stub: the reports helper is building the real thing.) Reports are drawn only from
//! a run directory's files (docs/RUN_FORMAT.md), never from the load generator's memory.

use std::path::{Path, PathBuf};

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: not a pushbench run directory ({reason})")]
    NotARun { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

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
    let dir = out
        .map(Path::to_path_buf)
        .or_else(|| runs.first().cloned())
        .unwrap_or_default();
    Ok(ReportOutput {
        index: dir.join("index.html"),
        files: Vec::new(),
        partial: false,
    })
}
