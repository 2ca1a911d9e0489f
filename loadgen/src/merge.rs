//! `pushbench merge DIR... --out DIR`: combines the worker run directories of workers that ran
//! the same plan elsewhere (other processes, other machines) into one run directory that
//! reports can draw. Per technique: counters add, histograms add exactly (HdrHistogram),
//! `expected` adds (each worker knows its own share), `published` and the window are the
//! run's (taken once). Server figures, which no worker has, are taken once from an input that
//! is a full run directory (the coordinator's), if one is given. The manifest lists the
//! inputs and says that the machines' clocks must be synchronized for the latencies to hold.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::run::group::RawResult;
use contract::run_dir::TechniqueSummary;

use crate::run::output::summary;
use crate::run::output::{histograms, timeseries};
use crate::run::phases::TechniqueResult;
use crate::run::pool::report_raw;
use crate::run::verdict;
use crate::technique::Technique;
use crate::worker::dir::FORMAT as WORKER_FORMAT;
use crate::worker::protocol::WorkerReport;

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
    Output(#[from] crate::run::output::OutputError),
}

fn read_json(p: &Path) -> Result<Value, MergeError> {
    let text = std::fs::read_to_string(p).map_err(|e| MergeError::Read(p.to_path_buf(), e))?;
    serde_json::from_str(&text).map_err(|e| MergeError::Json(p.to_path_buf(), e))
}

/// One technique, merged.
#[derive(Debug)]
struct Merged {
    raw: RawResult,
    expected: u64,
    published: u64,
    not_closed: u64,
    cpu: Option<f64>,
    rss: Option<u64>,
    start_us: u64,
    end_us: u64,
    failures: Vec<String>,
}

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
    let mut first: Option<(PathBuf, Value)> = None;
    let mut server_doc: Option<Value> = None;
    let mut techs: BTreeMap<Technique, Merged> = BTreeMap::new();
    let mut order: Vec<Technique> = Vec::new();
    let mut inputs = Vec::new();
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
        let m = read_json(&d.join("manifest.json"))?;
        let format = m["format"].as_str().unwrap_or_default();
        if format == crate::run::output::manifest::FORMAT {
            if server_doc.is_none() {
                server_doc = Some(read_json(&d.join("summary.json"))?);
            }
            inputs.push(serde_json::json!({"dir": d, "role": "server figures"}));
            continue;
        }
        if format != WORKER_FORMAT {
            return Err(MergeError::Bad(
                d.clone(),
                format!("manifest.json format is `{format}`, not a run or worker directory"),
            ));
        }
        let run_id = m["run_id"].as_str().unwrap_or_default().to_string();
        match &first {
            Some((p, f)) if f["run_id"].as_str().unwrap_or_default() != run_id => {
                return Err(MergeError::Mismatch(
                    p.clone(),
                    d.clone(),
                    f["run_id"].as_str().unwrap_or_default().to_string(),
                    run_id,
                ));
            }
            Some(_) => {}
            None => first = Some((d.clone(), m.clone())),
        }
        inputs.push(serde_json::json!({"dir": d, "role": "worker", "worker": m["worker"]}));
        let raw_dir = d.join("raw");
        let entries = std::fs::read_dir(&raw_dir).map_err(|e| MergeError::Read(raw_dir, e))?;
        let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files
            .into_iter()
            .filter(|f| f.extension().is_some_and(|x| x == "json"))
        {
            let v = read_json(&f)?;
            let r: WorkerReport = serde_json::from_value(v)
                .map_err(|e| MergeError::Bad(f.clone(), format!("not a worker report: {e}")))?;
            let raw = report_raw(&r).map_err(|e| MergeError::Bad(f.clone(), e.to_string()))?;
            let e = techs.entry(r.technique).or_insert_with(|| {
                order.push(r.technique);
                Merged {
                    raw: RawResult::empty(r.technique),
                    expected: 0,
                    published: r.published,
                    not_closed: 0,
                    cpu: Some(0.0),
                    rss: None,
                    start_us: r.window_start_us,
                    end_us: r.window_end_us,
                    failures: Vec::new(),
                }
            });
            e.raw.merge(&raw);
            e.expected += r.expected;
            e.published = e.published.max(r.published);
            e.not_closed += r.clients_not_closed;
            e.cpu = e.cpu.zip(r.loadgen_cpu_s).map(|(a, b)| a + b);
            e.rss = match (e.rss, r.loadgen_rss_bytes) {
                (a, Some(b)) => Some(a.unwrap_or(0) + b),
                (a, None) => a,
            };
            e.start_us = e.start_us.min(r.window_start_us);
            e.end_us = e.end_us.max(r.window_end_us);
            if let Some(f) = &r.failure {
                e.failures.push(format!("worker {}: {f}", r.index));
            }
        }
    }
    let Some((_, m0)) = first else {
        return Err(MergeError::NoWorkers);
    };
    std::fs::create_dir_all(out.join("histograms"))
        .map_err(|e| MergeError::Read(out.to_path_buf(), e))?;
    let server_of = |t: Technique| -> Option<&Value> {
        server_doc.as_ref()?["techniques"]
            .as_array()?
            .iter()
            .find(|x| x["technique"] == t.name())
    };
    let topics = m0["plan"]["topics"].as_array().map_or(1, |a| a.len()) as u32;
    let payload_bytes = m0["params"]["payload_bytes"].as_u64().unwrap_or(0) as usize;
    let at = |us: u64| UNIX_EPOCH + Duration::from_micros(us);
    let mut summaries = Vec::new();
    let mut failures = Vec::new();
    let run_start = techs
        .values()
        .map(|m| m.start_us)
        .min()
        .map_or(SystemTime::now(), at);
    for t in &order {
        let m = techs.remove(t).expect("every listed technique was merged");
        let mut r = TechniqueResult {
            raw: m.raw,
            topics,
            payload_bytes,
            duration: Duration::from_micros(m.end_us.saturating_sub(m.start_us)),
            window_start: at(m.start_us),
            published: m.published,
            expected: m.expected,
            publish_failures: 0,
            publish_lag_max_us: 0,
            server_window: None,
            server_phase: None,
            server_cpu_s: None,
            server_rss_bytes: None,
            server_rss_idle_bytes: None,
            loadgen_cpu_s: m.cpu,
            loadgen_rss_bytes: m.rss,
            clients_not_closed: m.not_closed as usize,
            failure: (!m.failures.is_empty()).then(|| m.failures.join("; ")),
        };
        failures.extend(m.failures);
        // The publisher is not in the worker directories: only deliveries are judged.
        r.failure = verdict::join(r.failure.take(), verdict::judge(&r, None));
        let mut s = summary::summary_of(&r);
        if let Some(v) = server_of(*t) {
            // Taken once, from the run that had the server (never summed over workers).
            s.server_bytes_up = v["server_bytes_up"].as_u64();
            s.server_bytes_down = v["server_bytes_down"].as_u64();
            s.server_requests = v["server_requests"].as_u64();
            s.server_phase_requests = v["server_phase_requests"].as_u64();
            s.server_phase_bytes_up = v["server_phase_bytes_up"].as_u64();
            s.server_phase_bytes_down = v["server_phase_bytes_down"].as_u64();
            s.server_cpu_s = v["server_cpu_s"].as_f64();
            s.server_rss_bytes = v["server_rss_bytes"].as_u64();
            s.server_rss_idle_bytes = v["server_rss_idle_bytes"].as_u64();
            s.publish_failures = Some(v["publish_failures"].as_u64().unwrap_or(0));
            s.publish_lag_max_ms = Some(v["publish_lag_max_ms"].as_f64().unwrap_or(0.0));
        }
        let name = t.name();
        let p = out.join("histograms").join(format!("{name}.hlog"));
        histograms::write_hlog(
            &p,
            &r.raw.latency,
            run_start,
            r.window_start,
            r.duration,
            name,
        )
        .map_err(|e| MergeError::Read(p.clone(), e))?;
        summaries.push(s);
    }
    let partial = !failures.is_empty();
    let manifest = serde_json::json!({
        "format": crate::run::output::manifest::FORMAT,
        "format_version": crate::run::output::manifest::FORMAT_VERSION,
        "partial": partial,
        "failure": (!failures.is_empty()).then(|| failures.join("; ")),
        "started_at": m0["started_at"],
        "ended_at": crate::run::output::manifest::rfc3339(chrono::Utc::now()),
        "command_line": std::env::args().collect::<Vec<_>>(),
        "target": m0["target"],
        "server_url": m0["target"],
        "server_command": null,
        "fresh_server_per_technique": false,
        "run_id": m0["run_id"],
        "server_processes": server_doc.as_ref().map(|d| d["manifest"]["server_processes"].clone()),
        "loadgen_processes": inputs.iter().filter(|i| i["role"] == "worker").count(),
        "clock": "merged from worker run directories: latency is each worker's receive time \
                  minus the publisher's scheduled time, so the machines' clocks must be \
                  synchronized (see docs/SCALING.md)",
        "merged_from": inputs,
        "params": m0["params"],
        "machine": m0["machine"],
        "versions": m0["versions"],
        "build_profile": m0["build_profile"],
        "git_revision": m0["git_revision"],
    });
    let write = |name: &str, v: &Value| -> Result<(), MergeError> {
        let p = out.join(name);
        let text = serde_json::to_string_pretty(v).unwrap_or_default() + "\n";
        std::fs::write(&p, text).map_err(|e| MergeError::Read(p, e))
    };
    write("manifest.json", &manifest)?;
    write(
        "summary.json",
        &serde_json::json!({"manifest": manifest, "techniques": summaries}),
    )?;
    let csv_err =
        |p: PathBuf| move |e: csv::Error| MergeError::Bad(p, format!("cannot write: {e}"));
    let p = out.join("summary.csv");
    summary::write_csv(&p, &summaries).map_err(csv_err(p.clone()))?;
    // No per-second rows: they live with each worker's coordinator, not in the raw files.
    let p = out.join("timeseries.csv");
    timeseries::write_csv(&p, &[]).map_err(csv_err(p.clone()))?;
    Ok(MergeOutcome {
        dir: out.to_path_buf(),
        summaries,
        partial,
    })
}
