//! `pushbench merge DIR... --out DIR`: combines the worker run directories of workers that ran
//! the same plan elsewhere (other processes, other machines) into one run directory that
//! reports can draw. Per technique: counters add, histograms add exactly (HdrHistogram),
//! `expected` adds (each worker knows its own share), `published` and the window are the
//! run's (taken once): the same [`WorkerTotals`] a live run adds its workers' reports into.
//! Server figures, which no worker has, are taken once from an input that is a full run
//! directory (the coordinator's), if one is given. The manifest lists the inputs and says that
//! the machines' clocks must be synchronized for the latencies to hold. The directory is
//! written by the same [`output::write_all`] as a run's.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use contract::run_dir::{Manifest, TechniqueSummary};
use serde_json::Value;

mod inputs;

use crate::group::WorkerTotals;
use crate::link::LinkSpec;
use crate::measure::TechniqueResult;
use crate::measure::links::LinkFigures;
use crate::measure::verdict;
use crate::output::{self, manifest::rfc3339};
use inputs::{Inputs, WorkerDir};

/// Options of `pushbench merge`.
#[derive(Debug, Clone, clap::Args)]
pub struct MergeArgs {
    /// Worker run directories (written by `pushbench worker --out DIR`) of one plan; a full run
    /// directory among them lends its server figures.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// The merged run directory to write (must not hold a run yet).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Do not write the HTML report into the merged directory.
    #[arg(long)]
    pub no_report: bool,
}

/// Why the inputs could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("{0}: not valid JSON: {1}")]
    Json(PathBuf, serde_json::Error),
    #[error("{0}: {1}")]
    Bad(PathBuf, String),
    #[error("no worker run directory among the inputs (each needs raw/<technique>.json)")]
    NoWorkers,
    #[error("{0} and {1} ran different plans (run_id {2} vs {3}); merge only workers of one run")]
    Mismatch(PathBuf, PathBuf, String, String),
    #[error("--out {0}: already holds a run (manifest.json); choose another directory")]
    OutExists(PathBuf),
    #[error(transparent)]
    Output(#[from] output::OutputError),
}

/// What a merged latency means, and what it takes to hold.
const CLOCK: &str = "merged from worker run directories: latency is each worker's receive time \
                     minus the publisher's scheduled time, so the machines' clocks must be \
                     synchronized (see docs/SCALING.md)";

/// What `merge` produced.
#[derive(Debug)]
pub struct MergeOutcome {
    pub dir: PathBuf,
    pub summaries: Vec<TechniqueSummary>,
    pub partial: bool,
}

/// Merges the worker run directories `dirs` into `out`.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<MergeOutcome, MergeError> {
    if out.join("manifest.json").exists() {
        return Err(MergeError::OutExists(out.to_path_buf()));
    }
    let inputs = inputs::read_inputs(dirs)?;
    let Some(first) = inputs.workers.first() else {
        return Err(MergeError::NoWorkers);
    };
    let totals = add_up(&inputs.workers)?;
    let topics = first.manifest.plan.as_ref().map_or(1, |p| p.topics.len()) as u32;
    let payload_bytes = first.manifest.params["payload_bytes"].as_u64().unwrap_or(0) as usize;
    let link = first.manifest.plan.as_ref().and_then(|p| p.link);
    let failures: Vec<String> = totals.iter().flat_map(|t| t.failures.clone()).collect();
    let run_start = totals
        .iter()
        .filter_map(|t| t.window_us.map(|(start, _)| start))
        .min()
        .map_or(SystemTime::now(), at);
    let results: Vec<TechniqueResult> = totals
        .into_iter()
        .map(|t| result_of(t, topics, payload_bytes, link))
        .collect();
    let mut doc = output::document(manifest_of(&inputs, &failures), &results);
    if let Some(server) = &inputs.server {
        lend_server_figures(&mut doc.techniques, &server.techniques);
    }
    output::write_all(out, &doc, &results, &[], run_start)?;
    Ok(MergeOutcome {
        dir: out.to_path_buf(),
        summaries: doc.techniques,
        partial: !failures.is_empty(),
    })
}

/// The wall-clock time `us` µs after the epoch.
fn at(us: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(us)
}

/// Every worker's reports added up, per technique, in the order the techniques first appear.
fn add_up(workers: &[WorkerDir]) -> Result<Vec<WorkerTotals>, MergeError> {
    let mut out: Vec<WorkerTotals> = Vec::new();
    for (path, r) in workers.iter().flat_map(|w| &w.reports) {
        let i = match out.iter().position(|t| t.raw.technique == r.technique) {
            Some(i) => i,
            None => {
                out.push(WorkerTotals::new(r.technique));
                out.len() - 1
            }
        };
        out[i]
            .add(r)
            .map_err(|e| MergeError::Bad(path.clone(), e.to_string()))?;
        if let Some(f) = &r.failure {
            out[i].failures.push(format!("worker {}: {f}", r.index));
        }
    }
    Ok(out)
}

/// One technique's merged result, judged as a run judges it (the publisher is not in the
/// worker directories: only deliveries are). `link`: the workers' plan's subscriber link.
fn result_of(
    t: WorkerTotals,
    topics: u32,
    payload_bytes: usize,
    link: Option<LinkSpec>,
) -> TechniqueResult {
    let (start, end) = t.window_us.unwrap_or_default();
    let technique = t.raw.technique;
    let mut r = TechniqueResult {
        raw: t.raw,
        duration: Duration::from_micros(end.saturating_sub(start)),
        window_start: at(start),
        published: t.published,
        expected: t.expected,
        loadgen_cpu_s: t.loadgen_cpu_s,
        loadgen_rss_bytes: t.loadgen_rss_bytes,
        clients_not_closed: t.clients_not_closed,
        link: link
            .filter(|l| !l.is_none() && t.link_processes > 0)
            .map(|l| LinkFigures {
                subscribers: Some((l, t.link)),
                publisher: None,
                processes: t.link_processes,
                threads: crate::link::DEFAULT_THREADS as u64,
                cpu_s: t.link_cpu_s,
            }),
        ..TechniqueResult::empty(technique, topics, payload_bytes)
    };
    let workers_failed = (!t.failures.is_empty()).then(|| t.failures.join("; "));
    r.failure = verdict::join(workers_failed, verdict::judge(&r, None));
    r
}

/// The merged run's manifest: the first worker's run, the inputs, and the clocks' caveat.
fn manifest_of(inputs: &Inputs, failures: &[String]) -> Manifest<Value> {
    let m0 = &inputs.workers[0].manifest;
    Manifest {
        format: contract::run_dir::FORMAT.into(),
        format_version: contract::run_dir::FORMAT_VERSION,
        partial: !failures.is_empty(),
        failure: (!failures.is_empty()).then(|| failures.join("; ")),
        started_at: m0.started_at.clone(),
        ended_at: Some(rfc3339(chrono::Utc::now())),
        command_line: std::env::args().collect(),
        target: m0.target.clone(),
        server_url: m0.target.clone(),
        server_command: None,
        fresh_server_per_technique: Some(false),
        server_processes: Some(server_processes(inputs)),
        loadgen_processes: Some(inputs.workers.len() as u32),
        clock: Some(CLOCK.into()),
        run_id: Some(m0.run_id.clone()),
        merged_from: Some(inputs.merged_from.clone()),
        params: m0.params.clone(),
        machine: m0.machine.clone(),
        versions: m0.versions.clone(),
        build_profile: m0.build_profile.clone(),
        git_revision: m0.git_revision.clone(),
    }
}

/// The server's processes: as the full run directory says, else as the workers' run options
/// say (`--server-processes`), else 1 (its default).
fn server_processes(inputs: &Inputs) -> u32 {
    let from_params = || {
        let p = &inputs.workers.first()?.manifest.params["server_processes"];
        u32::try_from(p.as_u64()?).ok()
    };
    inputs
        .server
        .as_ref()
        .and_then(|d| d.manifest.server_processes)
        .or_else(from_params)
        .unwrap_or(1)
}

/// Copies the figures no worker has from the full run directory's summary, per technique:
/// taken once, from the run that had the server (never summed over workers).
fn lend_server_figures(techniques: &mut [TechniqueSummary], from: &[TechniqueSummary]) {
    for s in techniques {
        let Some(v) = from.iter().find(|v| v.technique == s.technique) else {
            continue;
        };
        s.server_bytes_up = v.server_bytes_up;
        s.server_bytes_down = v.server_bytes_down;
        s.server_requests = v.server_requests;
        s.server_phase_requests = v.server_phase_requests;
        s.server_phase_bytes_up = v.server_phase_bytes_up;
        s.server_phase_bytes_down = v.server_phase_bytes_down;
        s.server_cpu_s = v.server_cpu_s;
        s.server_rss_bytes = v.server_rss_bytes;
        s.server_rss_idle_bytes = v.server_rss_idle_bytes;
        s.publish_failures = Some(v.publish_failures.unwrap_or(0));
        s.publish_lag_max_ms = Some(v.publish_lag_max_ms.unwrap_or(0.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::protocol::{self, Counts, WorkerPlan, WorkerReport};
    use crate::stats::new_histogram;
    use crate::technique::Technique;

    /// A worker directory as `pushbench worker --out` writes it: worker `index` of two, whose
    /// plan carries the run options `params`.
    fn worker(dir: &Path, index: u32, params: Value) {
        let plan = WorkerPlan {
            index,
            workers: 2,
            run_id: "r1".into(),
            technique: Technique::Sse,
            target: "http://127.0.0.1:9".into(),
            topics: vec!["t0".into()],
            clients: 1,
            first_index: index,
            ramp_up: 10.0,
            source_addrs: vec![],
            poll_interval_ms: 1000,
            long_poll_timeout_ms: 1000,
            connect_timeout_ms: 1000,
            read_timeout_ms: 2000,
            seed: 1,
            window: None,
            close_at_us: None,
            params,
            link: None,
            profile: None,
            fault: None,
            stall_from_us: None,
            recovery: None,
            transport: None,
        };
        let mut latency = new_histogram();
        latency.record(1_000).unwrap();
        let phase = Counts {
            delivered: 1,
            ..Counts::default()
        };
        let report = WorkerReport {
            index,
            technique: Technique::Sse,
            clients: 1,
            published: 1,
            expected: 1,
            window: phase,
            phase,
            latency: protocol::encode(&latency),
            connect: protocol::encode(&latency),
            first_message: protocol::encode(&latency),
            clients_not_closed: 0,
            loadgen_cpu_s: Some(0.5),
            loadgen_rss_bytes: Some(1 << 20),
            window_start_us: 1_000_000,
            window_end_us: 3_000_000,
            failure: None,
            link: None,
            link_cpu_s: None,
            recovery: None,
            stalled_latency: None,
            others_latency: None,
        };
        crate::worker::dir::write(dir, &plan, &report, &latency, chrono::Utc::now()).unwrap();
    }

    fn merged_manifest(name: &str, params: Value) -> Value {
        let tmp = std::env::temp_dir().join(format!("pb-merge-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let dirs = [tmp.join("w0"), tmp.join("w1")];
        for (i, d) in dirs.iter().enumerate() {
            worker(d, i as u32, params.clone());
        }
        let out = merge(&dirs, &tmp.join("merged")).unwrap();
        assert_eq!(out.summaries[0].delivered, Some(2));
        assert_eq!(out.summaries[0].loadgen_cpu_s, Some(1.0));
        let text = std::fs::read_to_string(tmp.join("merged/manifest.json")).unwrap();
        std::fs::remove_dir_all(&tmp).ok();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn the_merged_manifest_has_every_count_a_run_manifest_has() {
        let m = merged_manifest("params", serde_json::json!({"server_processes": 3}));
        assert_eq!(m["server_processes"], 3, "{m}");
        assert_eq!(m["loadgen_processes"], 2);
        assert_eq!(m["merged_from"][1]["worker"]["index"], 1);
        assert_eq!(m["merged_from"][1]["role"], "worker");
        // Workers planned by hand carry no run options: the server's default, never null.
        let m = merged_manifest("bare", Value::Null);
        assert_eq!(m["server_processes"], 1, "{m}");
    }
}
