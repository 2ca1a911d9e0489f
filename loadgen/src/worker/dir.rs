//! A worker run directory: what one worker measured, in files `pushbench merge` combines with
//! other workers' (docs/RUN_FORMAT.md, "Worker run directories"):
//!
//! ```text
//! manifest.json              format "pushbench-worker", the plan, the machine, times
//! raw/<technique>.json       the WorkerReport: counters and histograms (exact)
//! histograms/<technique>.hlog  the latency histogram, as in a run directory
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;

use crate::run::output::manifest;
use crate::run::output::{OutputError, histograms};
use crate::run::procfs;
use crate::worker::protocol::{WorkerPlan, WorkerReport};

/// The manifest's format name of a worker run directory.
pub const FORMAT: &str = "pushbench-worker";

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |error| OutputError::Io {
        path: path.to_path_buf(),
        error,
    }
}

fn write_json(path: &Path, v: &impl serde::Serialize) -> Result<(), OutputError> {
    let text = serde_json::to_string_pretty(v).map_err(|error| OutputError::Json {
        path: path.to_path_buf(),
        error,
    })?;
    std::fs::write(path, text + "\n").map_err(io(path))
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
    let m = serde_json::json!({
        "format": FORMAT,
        "format_version": manifest::FORMAT_VERSION,
        "partial": report.failure.is_some(),
        "failure": report.failure,
        "started_at": manifest::rfc3339(started_at),
        "ended_at": manifest::rfc3339(chrono::Utc::now()),
        "command_line": std::env::args().collect::<Vec<_>>(),
        "run_id": plan.run_id,
        "worker": {"index": plan.index, "workers": plan.workers,
                   "clients": plan.clients, "first_index": plan.first_index},
        "target": plan.target,
        "clock": "wall clock: latency = this machine's receive time - the publisher's scheduled \
                  time; clocks must be synchronized across machines",
        "params": plan.params,
        "plan": plan,
        "machine": procfs::machine(),
        "versions": manifest::versions(),
        "build_profile": manifest::build_profile(),
        "git_revision": manifest::git_revision(),
    });
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
