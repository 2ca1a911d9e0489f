//! `pushbench run`: starts (or finds) the server, measures each technique in turn
//! ([`crate::measure`]), and writes the run directory ([`crate::output`]).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::config::RunConfig;
use crate::measure::progress::Progress;
use crate::measure::{self, RunCtx, TechniqueResult};
use crate::output::{self, manifest};
use crate::sut::child::{self, ChildOptions, ChildServer};
use crate::sut::procfs;
use crate::sut::sampler::{Sampler, ServerProbe};
use crate::sut::target::{self, Target};
use contract::run_dir::Document;

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

/// The shared stop signal of a run and the reason it was given.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    pub token: CancellationToken,
    pub reason: Arc<Mutex<Option<String>>>,
    /// The child server's pid (0: none), so a second Ctrl-C can stop it before exiting.
    pub child_pid: Arc<std::sync::atomic::AtomicU32>,
}

impl Shutdown {
    /// Stops the run, keeping the first reason given.
    pub fn trigger(&self, why: impl Into<String>) {
        let mut r = self.reason.lock().unwrap_or_else(|e| e.into_inner());
        if r.is_none() {
            *r = Some(why.into());
        }
        drop(r);
        self.token.cancel();
    }
    pub fn reason(&self) -> Option<String> {
        self.reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Stops the run on SIGINT (Ctrl-C) or SIGTERM: the first one ends the run gracefully
/// (partial results are written); a second one stops the child server and exits at once.
/// Call inside the runtime.
pub fn install_signal_handlers(sd: &Shutdown) {
    use tokio::signal::unix::{SignalKind, signal};
    for (kind, name) in [
        (SignalKind::interrupt(), "SIGINT"),
        (SignalKind::terminate(), "SIGTERM"),
    ] {
        let Ok(mut s) = signal(kind) else { continue };
        let sd = sd.clone();
        tokio::spawn(async move {
            if s.recv().await.is_some() {
                eprintln!(
                    "pushbench: {name}: stopping and writing what was measured (again: quit now)"
                );
                sd.trigger(format!("interrupted by {name}"));
            }
            if s.recv().await.is_some() {
                let pid = sd.child_pid.load(std::sync::atomic::Ordering::Relaxed);
                if pid != 0 {
                    child::terminate(pid);
                }
                eprintln!("pushbench: {name} again: exiting without writing results");
                std::process::exit(130);
            }
        });
    }
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
    let progress = Progress::new();

    // The server: a --target, or a child process of our own.
    let (target, child) = match &cfg.target {
        Some(url) => {
            let t = Target::from_url(url).await?;
            t.check_reachable(cfg.connect_timeout).await?;
            (t, None)
        }
        None => {
            let opts = ChildOptions {
                exe: std::env::current_exe().map_err(RunError::Exe)?,
                retention: cfg.retention,
                long_poll_timeout: cfg.long_poll_timeout,
                heartbeat: child::heartbeat_for(cfg.read_timeout),
                processes: cfg.server_processes,
                max_connections: child::max_connections(cfg.clients, cfg.server_processes),
                start_timeout: Duration::from_secs(10),
            };
            let (t, c) = start_child(&opts, &cfg, &sd).await?;
            (t, Some((c, opts)))
        }
    };
    let id = run_id();
    let mut manifest = Manifest {
        format: manifest::FORMAT.into(),
        format_version: manifest::FORMAT_VERSION,
        partial: true,
        failure: None,
        started_at: Some(manifest::rfc3339(started_at)),
        ended_at: None,
        command_line,
        target: Some(cfg.target.clone().unwrap_or_else(|| "embedded".into())),
        server_url: Some(target.url.clone()),
        server_command: child.as_ref().map(|(c, _)| c.command.clone()),
        fresh_server_per_technique: Some(child.is_some() && !cfg.one_server),
        server_processes: Some(cfg.server_processes),
        loadgen_processes: Some(cfg.processes),
        clock: Some(
            if cfg.processes > 1 && cfg.worker_command.is_some() {
                "wall clocks of the machines the workers ran on (--worker-command): latency holds \
             only if they are synchronized with this one (docs/SCALING.md)"
            } else if cfg.processes > 1 {
                "one machine's wall clock (publisher and worker processes on one host)"
            } else {
                "single process clock (publisher and subscribers in one process)"
            }
            .into(),
        ),
        run_id: Some(id.clone()),
        merged_from: None,
        params: cfg.clone(),
        machine: procfs::machine(),
        versions: manifest::versions(),
        build_profile: Some(manifest::build_profile().into()),
        git_revision: manifest::git_revision(),
    };
    // Written now too, so even a run killed outright leaves its parameters.
    let early = output::create_dir(&dir).and_then(|()| output::write_manifest(&dir, &manifest));
    if let Err(e) = early {
        if let Some((c, _)) = child {
            c.stop().await;
        }
        return Err(e.into());
    }
    let result = measure(&cfg, target, child, &sd, &progress, run_start, &id).await;
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

/// Starts a child server and checks it answers.
async fn start_child(
    opts: &ChildOptions,
    cfg: &RunConfig,
    sd: &Shutdown,
) -> Result<(Target, ChildServer), RunError> {
    let c = ChildServer::start(opts).await?;
    sd.child_pid
        .store(c.pid, std::sync::atomic::Ordering::Relaxed);
    let t = Target::local(c.addr);
    if let Err(e) = t.check_reachable(cfg.connect_timeout).await {
        c.stop().await;
        return Err(e.into());
    }
    Ok((t, c))
}

/// Stops a child server, recording why if it had died on its own.
async fn stop_child(c: ChildServer, sd: &Shutdown) {
    if let Some(why) = c.exited() {
        sd.trigger(format!("{why} (pid {})", c.pid));
    }
    c.stop().await;
    sd.child_pid.store(0, std::sync::atomic::Ordering::Relaxed);
}

/// Ends the run (with the reason) when the child server dies on its own.
fn watch_child(
    c: &ChildServer,
    sd: &Shutdown,
    stop: &CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let pid = c.pid;
    let sd = sd.clone();
    let stop = stop.clone();
    let mut exited = c.exited_watch();
    tokio::spawn(async move {
        tokio::select! {
            _ = stop.cancelled() => {}
            r = exited.wait_for(|e| e.is_some()) => {
                if let Ok(why) = r {
                    let why = why.clone().unwrap_or_default();
                    sd.trigger(format!("{why} (pid {pid})"));
                }
            }
        }
    })
}

/// Measures each technique in turn. With a child server, each technique gets a fresh one
/// (unless `--one-server`), so its memory and CPU are its own and no earlier technique's
/// topics linger in it.
async fn measure(
    cfg: &RunConfig,
    mut target: Target,
    mut child: Option<(ChildServer, ChildOptions)>,
    sd: &Shutdown,
    progress: &Progress,
    run_start: Instant,
    run_id: &str,
) -> Result<(Vec<TechniqueResult>, Vec<contract::run_dir::TimeseriesRow>), RunError> {
    let stats_timeout = cfg.connect_timeout.min(Duration::from_secs(2));
    let probe_of = |t: &Target, c: &Option<(ChildServer, ChildOptions)>| match c {
        Some((c, _)) => ServerProbe::Child(c.pid),
        None => ServerProbe::Remote(t.clone(), stats_timeout),
    };
    let sampler = Sampler::new(run_start, Some(probe_of(&target, &child)));
    let stop_bg = CancellationToken::new();
    let sampler_task = tokio::spawn(sampler.clone().run(stop_bg.clone()));
    let mut results = Vec::new();
    let mut failed_start = None;
    for (i, &tech) in cfg.techniques.iter().enumerate() {
        if sd.token.is_cancelled() {
            break;
        }
        if i > 0 && !cfg.one_server {
            if let Some((old, opts)) = child.take() {
                stop_child(old, sd).await;
                if sd.token.is_cancelled() {
                    break;
                }
                match start_child(&opts, cfg, sd).await {
                    Ok((t, c)) => {
                        target = t;
                        child = Some((c, opts));
                        sampler.set_probe(Some(probe_of(&target, &child)));
                    }
                    Err(e) => {
                        sd.trigger(format!("could not start the server for {tech}: {e}"));
                        failed_start = Some(e);
                        break;
                    }
                }
            }
        }
        let watch_stop = CancellationToken::new();
        let watcher = child.as_ref().map(|(c, _)| watch_child(c, sd, &watch_stop));
        let ctx = RunCtx {
            cfg: cfg.clone(),
            target: target.clone(),
            probe: Some(probe_of(&target, &child)),
            sampler: sampler.clone(),
            shutdown: sd.token.clone(),
            failure: sd.reason.clone(),
            run_id: run_id.to_string(),
            progress: progress.clone(),
        };
        let r = measure::run_technique(&ctx, tech).await;
        watch_stop.cancel();
        if let Some(w) = watcher {
            let _ = w.await;
        }
        progress.println(&format!(
            "{tech:>9}: {}/{} delivered, p99 {:.1} ms{}",
            r.raw.phase.delivered,
            r.expected,
            if r.raw.latency.is_empty() {
                0.0
            } else {
                r.raw.latency.value_at_quantile(0.99) as f64 / 1000.0
            },
            r.failure
                .as_deref()
                .map(|f| format!(" ({f})"))
                .unwrap_or_default()
        ));
        results.push(r);
        if i + 1 < cfg.techniques.len() {
            tokio::select! {
                _ = sd.token.cancelled() => {}
                _ = tokio::time::sleep(cfg.pause) => {}
            }
        }
    }
    stop_bg.cancel();
    let _ = sampler_task.await;
    if let Some((c, _)) = child {
        stop_child(c, sd).await;
    }
    if results.is_empty() {
        if let Some(e) = failed_start {
            return Err(e);
        }
    }
    Ok((results, sampler.rows()))
}
