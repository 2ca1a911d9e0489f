//! The inputs of a merge, read and checked: worker run directories of one run (their manifest
//! and reports), and full run directories that lend their server figures.

use std::path::{Path, PathBuf};

use contract::run_dir::manifest::{ROLE_SERVER_FIGURES, ROLE_WORKER};
use contract::run_dir::{Document, MergedFrom};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::MergeError;
use crate::group::protocol::WorkerReport;
use crate::worker::dir::{self as worker_dir, WorkerManifest};

/// One worker run directory, read.
#[derive(Debug)]
pub struct WorkerDir {
    pub dir: PathBuf,
    pub manifest: WorkerManifest,
    /// Its reports (raw/<technique>.json), each with its file.
    pub reports: Vec<(PathBuf, WorkerReport)>,
}

/// The inputs of a merge, read and checked.
#[derive(Debug, Default)]
pub struct Inputs {
    /// In the order given.
    pub workers: Vec<WorkerDir>,
    /// The summary of the first full run directory given, which lends its server figures.
    pub server: Option<Document>,
    pub merged_from: Vec<MergedFrom>,
}

fn read_json(p: &Path) -> Result<Value, MergeError> {
    let text = std::fs::read_to_string(p).map_err(|e| MergeError::Read(p.to_path_buf(), e))?;
    serde_json::from_str(&text).map_err(|e| MergeError::Json(p.to_path_buf(), e))
}

/// Reads `value` (of file `p`) as a `what`.
fn typed<T: DeserializeOwned>(p: &Path, value: Value, what: &str) -> Result<T, MergeError> {
    serde_json::from_value(value)
        .map_err(|e| MergeError::Bad(p.to_path_buf(), format!("not {what}: {e}")))
}

/// Reads every input: worker directories (of one run), and full run directories that lend
/// their server figures.
pub fn read_inputs(dirs: &[PathBuf]) -> Result<Inputs, MergeError> {
    let mut inputs = Inputs::default();
    for d in dirs {
        if !d.join("manifest.json").is_file() {
            let why = if !d.exists() {
                "no such directory"
            } else if !d.is_dir() {
                "not a directory"
            } else {
                "not a run or worker directory: it has no manifest.json"
            };
            return Err(MergeError::Bad(d.clone(), why.into()));
        }
        let path = d.join("manifest.json");
        let m = read_json(&path)?;
        match m["format"].as_str().unwrap_or_default() {
            contract::run_dir::FORMAT => {
                if inputs.server.is_none() {
                    let p = d.join("summary.json");
                    inputs.server = Some(typed(&p, read_json(&p)?, "a run summary")?);
                }
                inputs.merged_from.push(MergedFrom {
                    dir: d.clone(),
                    role: ROLE_SERVER_FIGURES.into(),
                    worker: None,
                });
            }
            worker_dir::FORMAT => {
                let manifest: WorkerManifest = typed(&path, m, "a worker manifest")?;
                if let Some(w) = inputs.workers.first() {
                    if w.manifest.run_id != manifest.run_id {
                        return Err(MergeError::Mismatch(
                            w.dir.clone(),
                            d.clone(),
                            w.manifest.run_id.clone(),
                            manifest.run_id,
                        ));
                    }
                }
                inputs.merged_from.push(MergedFrom {
                    dir: d.clone(),
                    role: ROLE_WORKER.into(),
                    worker: manifest.worker,
                });
                let reports = read_reports(d)?;
                inputs.workers.push(WorkerDir {
                    dir: d.clone(),
                    manifest,
                    reports,
                });
            }
            format => {
                return Err(MergeError::Bad(
                    d.clone(),
                    format!("manifest.json format is `{format}`, not a run or worker directory"),
                ));
            }
        }
    }
    Ok(inputs)
}

/// The reports of worker directory `d` (raw/*.json), by file name.
fn read_reports(d: &Path) -> Result<Vec<(PathBuf, WorkerReport)>, MergeError> {
    let raw_dir = d.join("raw");
    let entries = std::fs::read_dir(&raw_dir).map_err(|e| MergeError::Read(raw_dir, e))?;
    let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    files.sort();
    files
        .into_iter()
        .filter(|f| f.extension().is_some_and(|x| x == "json"))
        .map(|f| {
            let r = typed(&f, read_json(&f)?, "a worker report")?;
            Ok((f, r))
        })
        .collect()
}
