//! What a run leaves: the run directory (docs/RUN_FORMAT.md) — manifest.json, summary.json,
//! summary.csv, timeseries.csv and `histograms/<technique>.hlog`, one module per file, their
//! formats the types of [`contract::run_dir`] — written by [`write_all`] for `pushbench run`
//! and `pushbench merge` alike; and the table printed at the end ([`table`]).

pub mod broker_table;
pub mod histograms;
pub mod manifest;
pub mod median;
pub mod request;
pub mod request_table;
pub mod summary;
pub mod table;
pub mod timeseries;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

use contract::run_dir::{Document, Manifest, TimeseriesRow};

use crate::measure::TechniqueResult;

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

/// An I/O error on `path`, as [`OutputError::Io`].
pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |error| OutputError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// Creates the run directory (and `histograms/`).
pub fn create_dir(dir: &Path) -> Result<(), OutputError> {
    std::fs::create_dir_all(dir.join("histograms")).map_err(io(dir))
}

/// Writes `v` as pretty JSON (and a final newline) into `path`.
pub fn write_json(path: &Path, v: &impl Serialize) -> Result<(), OutputError> {
    let text = serde_json::to_string_pretty(v).map_err(|error| OutputError::Json {
        path: path.to_path_buf(),
        error,
    })?;
    std::fs::write(path, text + "\n").map_err(io(path))
}

/// Writes manifest.json alone (at the start, so even a crashed run leaves one).
pub fn write_manifest<P: Serialize>(dir: &Path, m: &Manifest<P>) -> Result<(), OutputError> {
    write_json(&dir.join("manifest.json"), m)
}

/// The document of a run: its manifest and one summary per technique.
pub fn document<P>(manifest: Manifest<P>, results: &[TechniqueResult]) -> Document<P> {
    Document {
        manifest,
        techniques: results.iter().map(summary::summary_of).collect(),
    }
}

/// Writes every file of the run directory: `doc` (manifest.json, summary.json, summary.csv),
/// the time series and each result's latency histogram (window times relative to
/// `run_start`). `pushbench run` and `pushbench merge` both write through here.
pub fn write_all<P: Serialize>(
    dir: &Path,
    doc: &Document<P>,
    results: &[TechniqueResult],
    rows: &[TimeseriesRow],
    run_start: SystemTime,
) -> Result<(), OutputError> {
    write_docs(dir, doc, rows)?;
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
        if let Some(q) = &r.request {
            let hists = dir.join("histograms");
            request::write_hlogs(&hists, r, q, run_start).map_err(io(&hists))?;
        }
    }
    Ok(())
}

/// Writes every file of the run directory but the histograms: manifest.json, summary.json,
/// summary.csv and timeseries.csv.
pub fn write_docs<P: Serialize>(
    dir: &Path,
    doc: &Document<P>,
    rows: &[TimeseriesRow],
) -> Result<(), OutputError> {
    create_dir(dir)?;
    write_manifest(dir, &doc.manifest)?;
    write_json(&dir.join("summary.json"), doc)?;
    let csv_err = |path: PathBuf| move |error| OutputError::Csv { path, error };
    let p = dir.join("summary.csv");
    summary::write_csv(&p, &doc.techniques).map_err(csv_err(p.clone()))?;
    let p = dir.join("timeseries.csv");
    timeseries::write_csv(&p, rows).map_err(csv_err(p.clone()))?;
    Ok(())
}
