//! Reads and validates a run directory (docs/RUN_FORMAT.md): `manifest.json`, `summary.json`,
//! `summary.csv`, `timeseries.csv` and `histograms/<technique>.hlog` (read by [`crate::hlog`]), and
//! in a request run the optional `histograms/<technique>.{ttft,itl,e2e}.hlog`.
//!
//! Every failure is a typed [`ReportError`] naming the file: not a run directory, a format
//! version this crate does not read, a missing file or histogram, a file that does not parse.
//! A partial run (`partial: true`) loads like any other; the outputs mark it.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::ReportError;
use crate::model::{FORMAT_VERSION, LatencyUs, Manifest, Run, TechniqueSummary, TimeseriesRow};

/// The `format` value of every run directory's manifest.
pub use contract::run_dir::FORMAT as FORMAT_NAME;

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>, ReportError> {
    match fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ReportError::MissingFile {
            path: path.to_path_buf(),
            what,
        }),
        Err(e) => Err(ReportError::io(path, e)),
    }
}

/// Loads one run directory. `label` names it in comparison mode.
pub fn load_run(dir: &Path, label: &str) -> Result<Run, ReportError> {
    let not_a_run = |reason: &str| ReportError::NotARun {
        path: dir.to_path_buf(),
        reason: reason.to_string(),
    };
    if !dir.is_dir() {
        return Err(not_a_run(if dir.exists() {
            "not a directory"
        } else {
            "no such directory"
        }));
    }
    let manifest_path = dir.join("manifest.json");
    if !manifest_path.is_file() {
        return Err(not_a_run("it has no manifest.json"));
    }
    let manifest = load_manifest(&manifest_path)?;
    let mut techniques = load_summary(&dir.join("summary.json"))?;
    check_summary_csv(&dir.join("summary.csv"), &techniques)?;
    // A technique the target does not offer (`skipped`) has no figures: only a line says so.
    let (skipped, measured) = techniques.drain(..).partition(|t| t.skipped.is_some());
    techniques = measured;
    let timeseries = load_timeseries(&dir.join("timeseries.csv"))?;
    let mut histograms = BTreeMap::new();
    for t in &techniques {
        let name = t.technique.name();
        let path = dir.join("histograms").join(format!("{name}.hlog"));
        let count = t.latency_us.count.or(t.delivered).unwrap_or(0);
        if !path.is_file() {
            // A request run's charts fall back to the summary's percentiles (lateness).
            if count > 0 && t.request.is_none() {
                return Err(ReportError::MissingHistogram {
                    path,
                    technique: name.to_string(),
                    count,
                });
            }
            continue;
        }
        histograms.insert(name.to_string(), crate::hlog::load_hlog(&path)?);
    }
    let request_histograms = load_request_histograms(dir, &techniques)?;
    Ok(Run {
        dir: dir.to_path_buf(),
        label: label.to_string(),
        manifest,
        techniques,
        skipped,
        timeseries,
        histograms,
        request_histograms,
    })
}

/// A request run's `histograms/<technique>.{ttft,itl,e2e}.hlog`, those that exist (a run of an
/// older writer, or a broadcast run, has none; the report then uses the summary's percentiles).
fn load_request_histograms(
    dir: &Path,
    techniques: &[TechniqueSummary],
) -> Result<BTreeMap<String, hdrhistogram::Histogram<u64>>, ReportError> {
    let mut out = BTreeMap::new();
    for t in techniques.iter().filter(|t| t.request.is_some()) {
        for metric in crate::model::REQUEST_METRICS {
            let key = format!("{}.{metric}", t.technique.name());
            let path = dir.join("histograms").join(format!("{key}.hlog"));
            if path.is_file() {
                out.insert(key, crate::hlog::load_hlog(&path)?);
            }
        }
    }
    Ok(out)
}

fn load_manifest(path: &Path) -> Result<Manifest, ReportError> {
    let bytes = read(path, "the run's manifest")?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| ReportError::parse(path, e))?;
    let format = value.get("format").and_then(|f| f.as_str());
    if format != Some(FORMAT_NAME) {
        return Err(ReportError::NotARun {
            path: path.parent().unwrap_or(path).to_path_buf(),
            reason: match format {
                Some(f) => format!("manifest.json has format {f:?}, not {FORMAT_NAME:?}"),
                None => format!("manifest.json has no \"format\": {FORMAT_NAME:?}"),
            },
        });
    }
    let version = value
        .get("format_version")
        .and_then(|v| v.as_u64())
        .ok_or_else(|| ReportError::parse(path, "format_version is missing or not a number"))?;
    let path_buf = path.to_path_buf();
    let supported = u64::from(FORMAT_VERSION);
    if version > supported {
        return Err(ReportError::FormatTooNew {
            path: path_buf,
            found: version,
            supported,
        });
    }
    if version < supported {
        return Err(ReportError::FormatTooOld {
            path: path_buf,
            found: version,
            supported,
        });
    }
    serde_json::from_value(value).map_err(|e| ReportError::parse(path, e))
}

fn load_summary(path: &Path) -> Result<Vec<TechniqueSummary>, ReportError> {
    #[derive(Deserialize)]
    struct Doc {
        techniques: Vec<TechniqueSummary>,
    }
    let bytes = read(path, "the per-technique summary")?;
    let mut doc: Doc = serde_json::from_slice(&bytes).map_err(|e| ReportError::parse(path, e))?;
    for t in &mut doc.techniques {
        // With no latency recorded the writer puts zeros in every statistic: they are unknown.
        if t.latency_us.count == Some(0) {
            t.latency_us = LatencyUs {
                count: Some(0),
                ..Default::default()
            };
        }
    }
    // Technique names are checked by their type (one of the five); each may appear once.
    let mut seen = std::collections::BTreeSet::new();
    for t in &doc.techniques {
        if !seen.insert(t.technique) {
            return Err(ReportError::parse(
                path,
                format!("technique {:?} appears twice", t.technique.name()),
            ));
        }
    }
    Ok(doc.techniques)
}

/// `summary.csv` must exist, have a `technique` column and list exactly the techniques that
/// `summary.json` has (the figures themselves are taken from `summary.json`, which has them all).
fn check_summary_csv(path: &Path, techniques: &[TechniqueSummary]) -> Result<(), ReportError> {
    let bytes = read(path, "the per-technique summary as CSV")?;
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let headers = reader
        .headers()
        .map_err(|e| ReportError::parse(path, e))?
        .clone();
    let col = headers
        .iter()
        .position(|h| h == "technique")
        .ok_or_else(|| ReportError::parse(path, "no \"technique\" column"))?;
    let mut listed = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| ReportError::parse(path, e))?;
        let name = record.get(col).unwrap_or_default();
        if !techniques.iter().any(|t| t.technique.name() == name) {
            return Err(ReportError::parse(
                path,
                format!("technique {name:?} is not in summary.json"),
            ));
        }
        listed.push(name.to_string());
    }
    match techniques
        .iter()
        .find(|t| !listed.iter().any(|l| l == t.technique.name()))
    {
        Some(t) => Err(ReportError::parse(
            path,
            format!(
                "no row for technique {:?} of summary.json (truncated?)",
                t.technique.name()
            ),
        )),
        None => Ok(()),
    }
}

fn load_timeseries(path: &Path) -> Result<Vec<TimeseriesRow>, ReportError> {
    let bytes = read(path, "the per-second time series")?;
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    reader
        .deserialize()
        .collect::<Result<Vec<TimeseriesRow>, _>>()
        .map_err(|e| ReportError::parse(path, e))
}

/// Loads several runs, labelling each by its directory name (made unique with `#2`, `#3`...).
pub fn load_runs(dirs: &[PathBuf]) -> Result<Vec<Run>, ReportError> {
    let mut used: BTreeMap<String, usize> = BTreeMap::new();
    dirs.iter()
        .map(|dir| {
            let base = dir
                .canonicalize()
                .ok()
                .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| dir.display().to_string());
            let n = used.entry(base.clone()).or_insert(0);
            *n += 1;
            let label = if *n == 1 { base } else { format!("{base}#{n}") };
            load_run(dir, &label)
        })
        .collect()
}
