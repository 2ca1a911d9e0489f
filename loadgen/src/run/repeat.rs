//! `pushbench run --repeat N`: the whole run made N times, in rounds — repetition k measures
//! every technique (each on a fresh child server, as a run of one repetition does), then
//! repetition k+1 — so a slow drift of the machine's load spreads over every technique instead
//! of landing on the last ones. With `--target` every repetition measures that same server.
//!
//! Each repetition is written as a run directory of its own under `repetitions/<k>/`; the
//! top level then holds the combination ([`crate::output::median`]): each figure's median with
//! its min–max, every repetition's time series (its `repetition` column set) and each
//! technique's histograms of every repetition in one log (docs/RUN_FORMAT.md, "Repetitions").
//! A run cut short keeps the repetitions that completed (the first one, partial, if none did).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use contract::run_dir::{Document, TechniqueSummary, TimeseriesRow};

use super::{Manifest, RunError, RunOutcome, Server, Shutdown, manifest_of, measure_all, run_id};
use crate::config::RunConfig;
use crate::measure::TechniqueResult;
use crate::measure::progress::Progress;
use crate::output::{self, manifest, median};

/// What stays the same over the repetitions.
struct Ctx<'a> {
    cfg: &'a RunConfig,
    command_line: &'a [String],
    sd: &'a Shutdown,
    progress: &'a Progress,
    dir: &'a Path,
    run_start: Instant,
    started_at: chrono::DateTime<chrono::Utc>,
    id: String,
}

/// One repetition as measured.
struct Rep {
    k: u32,
    /// Its manifest as written in `repetitions/<k>/`.
    manifest: Manifest,
    results: Vec<TechniqueResult>,
    summaries: Vec<TechniqueSummary>,
    /// Its time series, times since the whole run started.
    rows: Vec<TimeseriesRow>,
    complete: bool,
}

/// Where repetition `k` is written.
pub fn repetition_dir(dir: &Path, k: u32) -> PathBuf {
    dir.join("repetitions").join(k.to_string())
}

/// Runs `cfg.repeat` repetitions into `dir` and writes the combined top level.
pub async fn execute(
    cfg: RunConfig,
    command_line: Vec<String>,
    sd: Shutdown,
    dir: PathBuf,
) -> Result<RunOutcome, RunError> {
    let run_start_wall = SystemTime::now();
    let progress = Progress::new();
    let ctx = Ctx {
        cfg: &cfg,
        command_line: &command_line,
        sd: &sd,
        progress: &progress,
        dir: &dir,
        run_start: Instant::now(),
        started_at: chrono::Utc::now(),
        id: run_id(),
    };
    let n = cfg.repeat;
    progress.println(&match &cfg.target {
        Some(url) => format!(
            "repeat {n}: each repetition measures every technique against --target {url} \
             (the same server every time, not a fresh one)"
        ),
        None => {
            format!("repeat {n}: each repetition measures every technique, each on a fresh server")
        }
    });
    let mut reps: Vec<Rep> = Vec::new();
    for k in 1..=n {
        if sd.token.is_cancelled() {
            break;
        }
        match one(&ctx, k).await {
            Ok(rep) => reps.push(rep),
            Err(e) if reps.is_empty() => {
                progress.finish();
                return Err(e);
            }
            Err(e) => {
                sd.trigger(format!("repetition {k}: {e}"));
                break;
            }
        }
        if k < n {
            tokio::select! {
                _ = sd.token.cancelled() => {}
                _ = tokio::time::sleep(cfg.pause) => {}
            }
        }
    }
    progress.finish();
    let outcome = combine(&ctx, &reps, run_start_wall)?;
    Ok(outcome)
}

/// Measures repetition `k` on a server of its own and writes `repetitions/<k>/`.
async fn one(ctx: &Ctx<'_>, k: u32) -> Result<Rep, RunError> {
    let cfg = RunConfig {
        repetition: Some(k),
        ..ctx.cfg.clone()
    };
    let rep_dir = repetition_dir(ctx.dir, k);
    let started_at = chrono::Utc::now();
    let start_wall = SystemTime::now();
    let start = Instant::now();
    let id = run_id();
    let server = Server::start(&cfg, ctx.sd, &id).await?;
    let mut m = manifest_of(&cfg, &server, ctx.command_line.to_vec(), started_at, &id);
    let mut early =
        output::create_dir(&rep_dir).and_then(|()| output::write_manifest(&rep_dir, &m));
    if k == 1 {
        // The top level's manifest, written now so even a run killed outright leaves one.
        early = early.and_then(|()| output::write_manifest(ctx.dir, &top_manifest(ctx, &m)));
    }
    if let Err(e) = early {
        server.abandon().await;
        return Err(e.into());
    }
    let label = format!(" [rep {k}/{}]", ctx.cfg.repeat);
    let (results, mut rows) =
        measure_all(&cfg, server, ctx.sd, ctx.progress, start, &id, &label).await?;
    let partial = ctx.sd.token.is_cancelled() || results.len() < cfg.techniques.len();
    m.partial = partial;
    m.failure = partial.then(|| {
        ctx.sd
            .reason()
            .unwrap_or_else(|| "run cut short".to_string())
    });
    m.ended_at = Some(manifest::rfc3339(chrono::Utc::now()));
    for r in &mut rows {
        r.repetition = Some(k);
    }
    let doc = output::document(m, &results);
    output::write_all(&rep_dir, &doc, &results, &rows, start_wall)?;
    let offset = start.duration_since(ctx.run_start).as_secs_f64();
    for r in &mut rows {
        r.t_s = ((r.t_s + offset) * 1000.0).round() / 1000.0;
    }
    Ok(Rep {
        k,
        manifest: doc.manifest,
        results,
        summaries: doc.techniques,
        rows,
        complete: !partial,
    })
}

/// The top level's manifest, from the first repetition's: the run's own options, start and id.
fn top_manifest(ctx: &Ctx<'_>, first: &Manifest) -> Manifest {
    Manifest {
        partial: true,
        failure: None,
        started_at: Some(manifest::rfc3339(ctx.started_at)),
        ended_at: None,
        run_id: Some(ctx.id.clone()),
        params: ctx.cfg.clone(),
        ..first.clone()
    }
}

/// Writes the top level from the repetitions: the completed ones (the first, partial, if none
/// completed) give the figures; every one gives its time series.
fn combine(ctx: &Ctx<'_>, reps: &[Rep], run_start: SystemTime) -> Result<RunOutcome, RunError> {
    let complete = reps.iter().filter(|r| r.complete).count();
    let used: Vec<&Rep> = if complete > 0 {
        reps.iter().filter(|r| r.complete).collect()
    } else {
        reps.iter().take(1).collect()
    };
    let partial = ctx.sd.token.is_cancelled() || complete < ctx.cfg.repeat as usize;
    let failure = partial.then(|| {
        let why = ctx
            .sd
            .reason()
            .unwrap_or_else(|| "run cut short".to_string());
        format!(
            "{why}; {complete} of {} repetitions completed",
            ctx.cfg.repeat
        )
    });
    let mut manifest = match reps.first() {
        Some(r) => top_manifest(ctx, &r.manifest),
        None => bare_manifest(ctx),
    };
    manifest.partial = partial;
    manifest.failure = failure.clone();
    manifest.ended_at = Some(manifest::rfc3339(chrono::Utc::now()));
    let techniques: Vec<TechniqueSummary> = ctx
        .cfg
        .techniques
        .iter()
        .filter_map(|&t| {
            let of_t: Vec<(u32, TechniqueSummary)> = used
                .iter()
                .filter_map(|r| {
                    let s = r.summaries.iter().find(|s| s.technique == t)?;
                    Some((r.k, s.clone()))
                })
                .collect();
            median::combine(&of_t)
        })
        .collect();
    let doc = Document {
        manifest,
        techniques,
    };
    let rows: Vec<TimeseriesRow> = reps.iter().flat_map(|r| r.rows.iter().cloned()).collect();
    output::write_docs(ctx.dir, &doc, &rows)?;
    write_merged_histograms(ctx.dir, &doc.techniques, &used, run_start)?;
    Ok(RunOutcome {
        dir: ctx.dir.to_path_buf(),
        doc,
        partial,
        failure,
    })
}

/// The top level's manifest when no repetition started (stopped before the first one).
fn bare_manifest(ctx: &Ctx<'_>) -> Manifest {
    Manifest {
        format: manifest::FORMAT.into(),
        format_version: manifest::FORMAT_VERSION,
        partial: true,
        failure: None,
        started_at: Some(manifest::rfc3339(ctx.started_at)),
        ended_at: None,
        command_line: ctx.command_line.to_vec(),
        target: ctx.cfg.target.clone(),
        server_url: None,
        server_command: None,
        fresh_server_per_technique: None,
        server_processes: Some(ctx.cfg.server_processes),
        loadgen_processes: Some(ctx.cfg.processes),
        clock: None,
        run_id: Some(ctx.id.clone()),
        merged_from: None,
        params: ctx.cfg.clone(),
        machine: crate::sut::procfs::machine(),
        versions: manifest::versions(),
        build_profile: Some(manifest::build_profile().into()),
        git_revision: manifest::git_revision(),
    }
}

/// `histograms/<technique>.hlog` of the top level: one interval per repetition used (a reader
/// adds them up: the merged histogram of every repetition).
fn write_merged_histograms(
    dir: &Path,
    techniques: &[TechniqueSummary],
    used: &[&Rep],
    run_start: SystemTime,
) -> Result<(), RunError> {
    for s in techniques.iter().filter(|s| s.skipped.is_none()) {
        let intervals: Vec<(&hdrhistogram::Histogram<u64>, SystemTime, Duration)> = used
            .iter()
            .flat_map(|r| &r.results)
            .filter(|r| r.raw.technique == s.technique && r.skipped.is_none())
            .map(|r| (&r.raw.latency, r.window_start, r.duration))
            .collect();
        if intervals.is_empty() {
            continue;
        }
        let name = s.technique.name();
        let p = dir.join("histograms").join(format!("{name}.hlog"));
        let log = contract::run_dir::hlog::write_log_intervals(&intervals, run_start, name)
            .map_err(output::io(&p))?;
        std::fs::write(&p, log).map_err(output::io(&p))?;
    }
    Ok(())
}
