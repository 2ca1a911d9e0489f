//! A worker run directory: what one worker measured, in files `pushbench merge` combines with
//! other workers' (docs/RUN_FORMAT.md, "Worker run directories"):
//!
//! ```text
//! manifest.json              format "pushbench-worker", the plan, the machine, times
//! raw/<technique>.json       the WorkerReport: counters and histograms (exact)
//! histograms/<technique>.hlog  the latency histogram, as in a run directory
//! ```
//!
//! [`WorkerManifest`] is written here and read by `merge`; like a run directory's manifest it
//! reads leniently (what a hand-made or older directory lacks reads as absent).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use contract::run_dir::manifest::WorkerShare;
use contract::run_dir::{FORMAT_VERSION, Machine, Versions};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::group::protocol::{WorkerPlan, WorkerReport};
use crate::output::{OutputError, histograms, io, manifest, write_json};
use crate::sut::procfs;

/// The manifest's format name of a worker run directory.
pub const FORMAT: &str = "pushbench-worker";

/// What a worker latency means, and what it takes to hold.
const CLOCK: &str = "wall clock: latency = this machine's receive time - the publisher's \
                     scheduled time; clocks must be synchronized across machines";

/// A worker run directory's manifest.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerManifest {
    /// [`FORMAT`].
    pub format: String,
    pub format_version: u32,
    #[serde(default)]
    pub partial: bool,
    #[serde(default)]
    pub failure: Option<String>,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub ended_at: Option<String>,
    #[serde(default)]
    pub command_line: Vec<String>,
    /// The run this worker belongs to: only workers of one run merge.
    #[serde(default)]
    pub run_id: String,
    #[serde(default)]
    pub worker: Option<WorkerShare>,
    /// The server's URL.
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub clock: Option<String>,
    /// The run's resolved options, as the plan carried them.
    #[serde(default)]
    pub params: serde_json::Value,
    #[serde(default)]
    pub plan: Option<WorkerPlan>,
    #[serde(default)]
    pub machine: Machine,
    #[serde(default)]
    pub versions: Versions,
    #[serde(default)]
    pub build_profile: Option<String>,
    #[serde(default)]
    pub git_revision: Option<String>,
}

/// The raw report file of `technique` in worker directory `dir`.
pub fn raw_path(dir: &Path, technique: &str) -> PathBuf {
    dir.join("raw").join(format!("{technique}.json"))
}

/// Writes (or adds a technique to) the worker run directory `dir`.
pub fn write(
    dir: &Path,
    plan: &WorkerPlan,
    report: &WorkerReport,
    latency: &Histogram<u64>,
    started_at: chrono::DateTime<chrono::Utc>,
) -> Result<(), OutputError> {
    std::fs::create_dir_all(dir.join("raw")).map_err(io(dir))?;
    std::fs::create_dir_all(dir.join("histograms")).map_err(io(dir))?;
    let m = WorkerManifest {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        partial: report.failure.is_some(),
        failure: report.failure.clone(),
        started_at: Some(manifest::rfc3339(started_at)),
        ended_at: Some(manifest::rfc3339(chrono::Utc::now())),
        command_line: std::env::args().collect(),
        run_id: plan.run_id.clone(),
        worker: Some(WorkerShare {
            index: plan.index,
            workers: plan.workers,
            clients: plan.clients,
            first_index: plan.first_index,
        }),
        target: Some(plan.target.clone()),
        clock: Some(CLOCK.into()),
        params: plan.params.clone(),
        plan: Some(plan.clone()),
        machine: procfs::machine(),
        versions: manifest::versions(),
        build_profile: Some(manifest::build_profile().into()),
        git_revision: manifest::git_revision(),
    };
    write_json(&dir.join("manifest.json"), &m)?;
    let name = report.technique.name();
    write_json(&raw_path(dir, name), report)?;
    let p = dir.join("histograms").join(format!("{name}.hlog"));
    let at = |us: u64| UNIX_EPOCH + Duration::from_micros(us);
    let start = at(report.window_start_us);
    let len = Duration::from_micros(report.window_end_us.saturating_sub(report.window_start_us));
    let run_start: SystemTime = started_at.into();
    histograms::write_hlog(&p, latency, run_start.min(start), start, len, name).map_err(io(&p))
}
