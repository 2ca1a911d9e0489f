//! `pushbench run`: starts (or finds) the server ([`server`]), measures each technique in turn
//! ([`crate::measure`]), and writes the run directory ([`crate::output`]); Ctrl-C or a dead
//! server stops it early with what was measured ([`shutdown`]). With `--repeat N` the whole
//! of it is made N times over and combined ([`repeat`]).

pub mod repeat;
pub mod server;
pub mod shutdown;

use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use contract::run_dir::{Document, TimeseriesRow};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::RunConfig;
use crate::measure::progress::Progress;
use crate::measure::restart::{self, RestartHook};
use crate::measure::{self, NOT_OFFERED, RunCtx, TechniqueResult};
use crate::output::{self, manifest};
use crate::sut::sampler::Sampler;
use crate::sut::{child, procfs, target};
use crate::technique::Technique;
use server::Server;
pub use shutdown::{Shutdown, install_signal_handlers};

/// The manifest of a run: its `params` are the resolved options.
pub type Manifest = contract::run_dir::Manifest<RunConfig>;

/// Why a run could not be made (a run cut short is not an error: see [`RunOutcome::partial`]).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Target(#[from] target::TargetError),
    #[error(transparent)]
    Child(#[from] child::ChildError),
    #[error(transparent)]
    Output(#[from] output::OutputError),
    #[error("--out {0}: already holds a run (manifest.json); choose another directory")]
    OutExists(PathBuf),
    #[error(transparent)]
    Broker(#[from] crate::sut::broker::BrokerError),
    #[error("cannot find this program to start the server: {0}")]
    Exe(std::io::Error),
}

/// What a run produced.
#[derive(Debug)]
pub struct RunOutcome {
    pub dir: PathBuf,
    pub doc: Document<RunConfig>,
    pub partial: bool,
    pub failure: Option<String>,
}

fn default_out_dir() -> PathBuf {
    PathBuf::from("results").join(chrono::Utc::now().format("%Y%m%d-%H%M%S").to_string())
}

fn run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{:08x}",
        (nanos as u64 ^ (u64::from(std::process::id()) << 32)) as u32
    )
}

/// Runs the whole benchmark described by `cfg`.
pub async fn execute(
    cfg: RunConfig,
    command_line: Vec<String>,
    sd: Shutdown,
) -> Result<RunOutcome, RunError> {
    let started_at = chrono::Utc::now();
    let run_start_wall = SystemTime::now();
    let run_start = Instant::now();
    let dir = cfg.out.clone().unwrap_or_else(default_out_dir);
    if dir.join("manifest.json").exists() {
        return Err(RunError::OutExists(dir));
    }
    if cfg.repeat > 1 {
        return repeat::execute(cfg, command_line, sd, dir).await;
    }
    let progress = Progress::new();
    let id = run_id();
    let server = Server::start(&cfg, &sd, &id).await?;
    let mut manifest = manifest_of(&cfg, &server, command_line, started_at, &id);
    // Written now too, so even a run killed outright leaves its parameters.
    let early = output::create_dir(&dir).and_then(|()| output::write_manifest(&dir, &manifest));
    if let Err(e) = early {
        server.abandon().await;
        return Err(e.into());
    }
    let result = measure_all(&cfg, server, &sd, &progress, run_start, &id, "").await;
    progress.finish();
    let (results, rows) = result?;

    let partial = sd.token.is_cancelled() || results.len() < cfg.techniques.len();
    let failure = if partial {
        sd.reason().or_else(|| Some("run cut short".into()))
    } else {
        None
    };
    manifest.partial = partial;
    manifest.failure = failure.clone();
    manifest.ended_at = Some(manifest::rfc3339(chrono::Utc::now()));
    let doc = output::document(manifest, &results);
    output::write_all(&dir, &doc, &results, &rows, run_start_wall)?;
    Ok(RunOutcome {
        dir,
        doc,
        partial,
        failure,
    })
}

/// The run's manifest as it starts (`partial` until it ends).
fn manifest_of(
    cfg: &RunConfig,
    server: &Server,
    command_line: Vec<String>,
    started_at: chrono::DateTime<chrono::Utc>,
    run_id: &str,
) -> Manifest {
    let clock = if cfg.processes > 1 && cfg.worker_command.is_some() {
        "wall clocks of the machines the workers ran on (--worker-command): latency holds only \
         if they are synchronized with this one (docs/SCALING.md)"
    } else if cfg.processes > 1 {
        "one machine's wall clock (publisher and worker processes on one host)"
    } else {
        "single process clock (publisher and subscribers in one process)"
    };
    Manifest {
        format: manifest::FORMAT.into(),
        format_version: manifest::FORMAT_VERSION,
        partial: true,
        failure: None,
        started_at: Some(manifest::rfc3339(started_at)),
        ended_at: None,
        command_line,
        target: Some(cfg.target.clone().unwrap_or_else(|| "embedded".into())),
        server_url: Some(server.target.url.clone()),
        server_command: server.command(),
        fresh_server_per_technique: Some(server.is_child() && !cfg.one_server),
        server_processes: Some(cfg.server_processes),
        loadgen_processes: Some(cfg.processes),
        clock: Some(clock.into()),
        run_id: Some(run_id.to_string()),
        merged_from: None,
        params: cfg.clone(),
        machine: procfs::machine(),
        versions: manifest::versions(),
        build_profile: Some(manifest::build_profile().into()),
        git_revision: manifest::git_revision(),
    }
}

/// Measures each technique in turn. With a child server, each technique gets a fresh one
/// (unless `--one-server`), so its memory and CPU are its own and no earlier technique's
/// topics linger in it. `label` follows the technique in progress lines (` [rep 2/5]`).
async fn measure_all(
    cfg: &RunConfig,
    mut server: Server,
    sd: &Shutdown,
    progress: &Progress,
    run_start: Instant,
    run_id: &str,
    label: &str,
) -> Result<(Vec<TechniqueResult>, Vec<TimeseriesRow>), RunError> {
    let sampler = Sampler::new(run_start, Some(server.probe()));
    let stop_sampler = CancellationToken::new();
    let sampler_task = tokio::spawn(sampler.clone().run(stop_sampler.clone()));
    let mut results = Vec::new();
    let mut failed_start = None;
    for (i, &tech) in cfg.techniques.iter().enumerate() {
        let skip = match &cfg.request {
            Some(_) => crate::request::skip_reason(&server.target.profile, tech),
            None => server
                .target
                .profile
                .subscribe(tech)
                .is_none()
                .then_some(NOT_OFFERED),
        };
        if let Some(why) = skip {
            let r = TechniqueResult::skipped(tech, why);
            progress.println(&format!("{tech:>9}{label}: skipped ({why})"));
            results.push(r);
            continue;
        }
        let fresh = i > 0 && !cfg.one_server && server.is_child();
        if fresh && !sd.token.is_cancelled() {
            if let Err(e) = server.renew(cfg, sd).await {
                sd.trigger(format!("could not start the server for {tech}: {e}"));
                failed_start = Some(e);
                break;
            }
            if !sd.token.is_cancelled() {
                sampler.set_probe(Some(server.probe()));
            }
        }
        if sd.token.is_cancelled() {
            break;
        }
        let (hook, requests) = RestartHook::channel();
        let restarting = cfg.fault.restart_server.is_some() && server.is_child();
        let ctx = RunCtx {
            cfg: cfg.clone(),
            target: server.target.clone(),
            probe: Some(server.probe()),
            sampler: sampler.clone(),
            shutdown: sd.token.clone(),
            failure: sd.reason.clone(),
            run_id: run_id.to_string(),
            progress: progress.clone(),
            restart: restarting.then_some(hook),
            broker: server.broker.clone(),
        };
        let mut r = measure_one(&ctx, &mut server, sd, tech, requests).await;
        if let Some(b) = r.broker.as_mut() {
            // The server's own view of the broker as the technique ends.
            b.status = server
                .target
                .stats(cfg.connect_timeout.min(std::time::Duration::from_secs(2)))
                .await
                .and_then(|s| s.broker);
        }
        progress.println(&result_line(tech, label, &r));
        results.push(r);
        if i + 1 < cfg.techniques.len() {
            tokio::select! {
                _ = sd.token.cancelled() => {}
                _ = tokio::time::sleep(cfg.pause) => {}
            }
        }
    }
    stop_sampler.cancel();
    let _ = sampler_task.await;
    server.stop(sd).await;
    match failed_start {
        Some(e) if results.is_empty() => Err(e),
        _ => Ok((results, sampler.rows())),
    }
}

/// Measures one technique, the run stopping if its child server dies meanwhile; restarts the
/// server when the phases ask (`requests`, the `restart-server` fault).
async fn measure_one(
    ctx: &RunCtx,
    server: &mut Server,
    sd: &Shutdown,
    tech: Technique,
    requests: mpsc::Receiver<restart::Request>,
) -> TechniqueResult {
    let watch_stop = CancellationToken::new();
    let watcher = server.watch(sd, &watch_stop);
    let measured = async {
        let r = match ctx.cfg.request {
            Some(_) => crate::request::measure(ctx, tech).await,
            None => measure::run_technique(ctx, tech).await,
        };
        watch_stop.cancel();
        r
    };
    let serve = serve_restarts(ctx, server, sd, requests, &watch_stop);
    let (r, ()) = tokio::join!(measured, serve);
    if let Some(w) = watcher {
        let _ = w.await;
    }
    r
}

/// Restarts the server each time the phases ask, until `done`; a restart that fails stops
/// the run (with why). The sampler follows the new process.
async fn serve_restarts(
    ctx: &RunCtx,
    server: &mut Server,
    sd: &Shutdown,
    mut requests: mpsc::Receiver<restart::Request>,
    done: &CancellationToken,
) {
    loop {
        let reply = tokio::select! {
            _ = done.cancelled() => return,
            r = requests.recv() => match r {
                Some(reply) => reply,
                None => return,
            },
        };
        let outcome = match server.restart(&ctx.cfg, sd).await {
            Some(Ok(r)) => {
                ctx.sampler.set_probe(Some(r.probe.clone()));
                Some(r)
            }
            Some(Err(e)) => {
                sd.trigger(format!("could not restart the server: {e}"));
                None
            }
            None => None,
        };
        let _ = reply.send(outcome);
    }
}

/// The line printed as each technique ends.
fn result_line(tech: Technique, label: &str, r: &TechniqueResult) -> String {
    let p99_ms = if r.raw.latency.is_empty() {
        0.0
    } else {
        r.raw.latency.value_at_quantile(0.99) as f64 / 1000.0
    };
    let figure = match &r.request {
        Some(q) if !q.ttft.is_empty() => format!(
            "TTFT p99 {:.1} ms, late p99",
            q.ttft.value_at_quantile(0.99) as f64 / 1000.0
        ),
        _ => "p99".to_string(),
    };
    format!(
        "{tech:>9}{label}: {}/{} delivered, {figure} {p99_ms:.1} ms{}{}",
        r.raw.phase.delivered,
        r.expected,
        r.fault.as_ref().map(fault_text).unwrap_or_default(),
        r.failure
            .as_deref()
            .map(|f| format!(" ({f})"))
            .unwrap_or_default()
    )
}

/// The faults' figures on a technique's line: `; 400 cuts, 0.0 lost per 1,000, recovery p50
/// 101.6 ms, 3 gaps`.
fn fault_text(f: &contract::run_dir::FaultSummary) -> String {
    let cuts = f.cuts.unwrap_or(0) + f.idle_cuts.unwrap_or(0);
    let mut parts = vec![format!("{cuts} cuts")];
    if let Some(l) = f.lost_per_1000_cuts {
        parts.push(format!("{l:.1} lost per 1,000"));
    }
    if let Some(p50) = f.recovery_ms.as_ref().and_then(|m| m.p50) {
        parts.push(format!("recovery p50 {p50:.1} ms"));
    }
    if let Some(n) = f.server_restarts.filter(|&n| n > 0) {
        parts.push(format!("{n} server restarts"));
    }
    if let Some(g) = f.gaps.filter(|&g| g > 0) {
        parts.push(format!("{g} gaps"));
    }
    format!("; {}", parts.join(", "))
}
