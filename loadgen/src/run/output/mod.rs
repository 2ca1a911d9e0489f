//! The run directory (docs/RUN_FORMAT.md): manifest.json, summary.json, summary.csv,
//! timeseries.csv and histograms/<technique>.hlog, one module per file format.

pub mod histograms;
pub mod manifest;
pub mod summary;
pub mod timeseries;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

use contract::run_dir::TimeseriesRow;

use crate::run::config::RunConfig;
use crate::run::phases::TechniqueResult;
use manifest::Manifest;

/// Why the run directory could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: {error}")]
    Csv { path: PathBuf, error: csv::Error },
    #[error("{path}: {error}")]
    Json {
        path: PathBuf,
        error: serde_json::Error,
    },
}

/// summary.json and `--json` of a run: `{"manifest": {...}, "techniques": [...]}`.
pub type Document = contract::run_dir::Document<RunConfig>;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |error| OutputError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// Creates the run directory (and `histograms/`).
pub fn create_dir(dir: &Path) -> Result<(), OutputError> {
    std::fs::create_dir_all(dir.join("histograms")).map_err(io(dir))
}

fn write_json(path: &Path, v: &impl Serialize) -> Result<(), OutputError> {
    let text = serde_json::to_string_pretty(v).map_err(|error| OutputError::Json {
        path: path.to_path_buf(),
        error,
    })?;
    std::fs::write(path, text + "\n").map_err(io(path))
}

/// Writes manifest.json alone (at the start, so even a crashed run leaves one).
pub fn write_manifest(dir: &Path, m: &Manifest) -> Result<(), OutputError> {
    write_json(&dir.join("manifest.json"), m)
}

/// Writes every file of the run directory; returns the document.
pub fn write_all(
    dir: &Path,
    manifest: Manifest,
    results: &[TechniqueResult],
    rows: &[TimeseriesRow],
    run_start: SystemTime,
) -> Result<Document, OutputError> {
    create_dir(dir)?;
    let doc = Document {
        manifest,
        techniques: results.iter().map(summary::summary_of).collect(),
    };
    write_manifest(dir, &doc.manifest)?;
    write_json(&dir.join("summary.json"), &doc)?;
    let p = dir.join("summary.csv");
    summary::write_csv(&p, &doc.techniques).map_err(|error| OutputError::Csv { path: p, error })?;
    let p = dir.join("timeseries.csv");
    timeseries::write_csv(&p, rows).map_err(|error| OutputError::Csv { path: p, error })?;
    for r in results {
        let name = r.raw.technique.name();
        let p = dir.join("histograms").join(format!("{name}.hlog"));
        histograms::write_hlog(
            &p,
            &r.raw.latency,
            run_start,
            r.window_start,
            r.duration,
            name,
        )
        .map_err(io(&p))?;
    }
    Ok(doc)
}
