//! One technique's measurement, phase by phase ([`phases`]): ramp-up (connect the clients),
//! warm-up (publisher running), steady state (the measured window), drain (publisher stopped,
//! wait for in-flight deliveries, then close the clients). Server counters are snapshotted at
//! the window's start and end and around the whole phase (before the first connect, after the
//! last close); CPU is read at the window's edges. The clients run in this process or in
//! worker processes ([`crate::group::Clients`]): the phases are the same. What they produce is
//! a [`TechniqueResult`], judged by [`verdict`]; the worker command waits with [`wait`] as the
//! phases do.

pub mod broker;
pub mod faults;
pub mod links;
pub mod phases;
pub mod progress;
pub mod restart;
pub mod result;
pub mod verdict;
pub mod wait;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::config::RunConfig;
use crate::fault::FaultPlan;
use crate::group::pool::split;
use crate::group::protocol::WorkerPlan;
use crate::group::{Clients, Closed, GroupPlan};
use crate::link::Link;
use crate::publisher::PublisherStats;
use crate::stats::Recorder;
use crate::sut::procfs::ProcSample;
use crate::sut::sampler::{Peaks, Phase, Sampler, ServerProbe};
use crate::sut::target::{Target, TechniqueStats};
use crate::technique::Technique;
use links::PhaseLinks;
use phases::{Before, Steady};
use progress::Progress;
pub use result::{NOT_OFFERED, RequestFigures, TechniqueResult};

/// Everything the phases of one run share.
#[derive(Debug)]
pub struct RunCtx {
    pub cfg: RunConfig,
    pub target: Target,
    pub probe: Option<ServerProbe>,
    pub sampler: Arc<Sampler>,
    /// Cancelled on Ctrl-C / SIGTERM or when the server dies.
    pub shutdown: CancellationToken,
    /// Why the run stopped early (set by whoever cancels `shutdown`).
    pub failure: Arc<Mutex<Option<String>>>,
    /// Unique per run: topic names carry it so an old run's retained messages never mix in.
    pub run_id: String,
    pub progress: Progress,
    /// How to restart the server (the `restart-server` fault): None when the run did not
    /// start it (or the fault is not set).
    pub restart: Option<restart::RestartHook>,
    /// The child broker of `--broker` (None: none).
    pub broker: Option<Arc<crate::sut::broker::ChildBroker>>,
}

impl RunCtx {
    fn stats_timeout(&self) -> Duration {
        self.cfg.connect_timeout.min(Duration::from_secs(2))
    }

    /// The server's counters of technique `t`, if it answers.
    pub async fn server_stats(&self, t: Technique) -> Option<TechniqueStats> {
        let stats = self.target.stats(self.stats_timeout()).await?;
        stats.technique(t.name()).copied()
    }

    /// The server processes' CPU and memory, if known.
    pub async fn server_sample(&self) -> Option<ProcSample> {
        match &self.probe {
            Some(p) => p.sample().await,
            None => None,
        }
    }

    /// Waits until `deadline`, `done()` or shutdown, showing `phase` on the progress line.
    /// Returns whether `done()` came true.
    pub async fn wait(
        &self,
        rec: &Recorder,
        phase: Phase,
        deadline: Instant,
        done: impl FnMut() -> bool,
    ) -> bool {
        let show = |left| {
            self.progress
                .update(rec, phase.name(), self.cfg.clients, Some(left))
        };
        wait::until(deadline, Some(&self.shutdown), show, done).await
    }

    /// Why the run stopped early, if it did.
    pub fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Measures technique `tech`: ramp-up, warm-up, steady state, drain, close.
pub async fn run_technique(ctx: &RunCtx, tech: Technique) -> TechniqueResult {
    let links = match PhaseLinks::start(&ctx.cfg) {
        Ok(l) => l,
        Err(e) => return not_started(ctx, tech, format!("cannot start the link emulator: {e}")),
    };
    let plan = group_plan(ctx, tech, links.subscribers.clone());
    let before = phases::before(ctx, tech).await;
    let mut clients = match start_clients(ctx, plan).await {
        Ok(c) => c,
        Err(why) => return not_started(ctx, tech, why),
    };
    let rec = clients.rec();
    ctx.sampler.begin(rec.clone());
    phases::ramp_up(ctx, &mut clients).await;
    let warm = phases::warm_up(ctx, &mut clients, links.publisher.clone()).await;
    let steady = phases::steady(ctx, tech, &rec, warm.steady_end).await;
    let publisher = phases::drain(ctx, &mut clients, warm).await;
    // Close the clients, then let the server see the closes before its last snapshot.
    let closed = clients.close(ctx.cfg.connect_timeout, steady.clients).await;
    let server_after = phases::after(ctx, tech).await;
    let measured = Measured {
        plan: clients.plan(),
        rec: &rec,
        before,
        steady,
        publisher: &publisher,
        server_after,
        peaks: ctx.sampler.end(),
    };
    measured.result(ctx, closed, &links)
}

/// What the run's clients of `tech` run: every client, on topics named after the run.
fn group_plan(ctx: &RunCtx, tech: Technique, link: Option<Link>) -> GroupPlan {
    let cfg = &ctx.cfg;
    GroupPlan {
        technique: tech,
        target: ctx.target.clone(),
        topics: (0..cfg.topics)
            .map(|i| format!("pb-{}-{}-{i}", ctx.run_id, tech.name()))
            .collect(),
        clients: cfg.clients,
        ramp_up: cfg.ramp_up,
        source_addrs: cfg.client_addrs(),
        poll_interval: cfg.poll_interval,
        long_poll_timeout: cfg.long_poll_timeout,
        connect_timeout: cfg.connect_timeout,
        read_timeout: cfg.read_timeout,
        seed: cfg.seed,
        first_index: 0,
        link,
        faults: cfg.fault.any().then(|| {
            // The stalled readers stall 1 s into the window (after ramp-up and warm-up).
            let ramp = Duration::from_secs_f64(f64::from(cfg.clients) / cfg.ramp_up.max(1e-3));
            let stall_after = ramp + cfg.warmup + Duration::from_secs(1);
            Arc::new(FaultPlan::new(cfg.fault, stall_after))
        }),
        recovery: cfg.recovery,
        transport: Arc::new(crate::clients::Transport::for_target(&ctx.target)),
    }
}

/// The clients of `plan`: in this process, or (`--processes N`) in N worker processes,
/// started now. Err: why the workers could not be started.
async fn start_clients(ctx: &RunCtx, plan: GroupPlan) -> Result<Clients, String> {
    let cfg = &ctx.cfg;
    if cfg.processes <= 1 {
        return Ok(Clients::local(plan));
    }
    let plans = worker_plans(ctx, &plan);
    let command = cfg.worker_command.as_deref();
    let started = match std::env::current_exe() {
        Ok(exe) => Clients::workers(plan, &exe, command, plans, ctx.sampler.clone()).await,
        Err(e) => Err(e),
    };
    started.map_err(|e| format!("cannot start worker processes: {e}"))
}

/// One plan per worker process: contiguous shares of the clients.
fn worker_plans(ctx: &RunCtx, plan: &GroupPlan) -> Vec<WorkerPlan> {
    let cfg = &ctx.cfg;
    let ms = |d: Duration| d.as_millis() as u64;
    split(cfg.clients, cfg.processes)
        .into_iter()
        .enumerate()
        .map(|(k, (first, count))| WorkerPlan {
            index: k as u32,
            workers: cfg.processes,
            run_id: ctx.run_id.clone(),
            technique: plan.technique,
            target: ctx.target.url.clone(),
            topics: plan.topics.clone(),
            clients: count,
            first_index: first,
            ramp_up: cfg.ramp_up * f64::from(count) / f64::from(cfg.clients),
            source_addrs: plan.source_addrs.clone(),
            poll_interval_ms: ms(cfg.poll_interval),
            long_poll_timeout_ms: ms(cfg.long_poll_timeout),
            connect_timeout_ms: ms(cfg.connect_timeout),
            read_timeout_ms: ms(cfg.read_timeout),
            seed: cfg.seed,
            window: None,
            close_at_us: None,
            params: serde_json::to_value(cfg).unwrap_or_default(),
            link: (!cfg.link.is_none()).then_some(cfg.link),
            profile: (!ctx.target.profile.is_pushbench()).then(|| (*ctx.target.profile).clone()),
            fault: plan.faults.as_ref().map(|f| f.spec.to_string()),
            stall_from_us: plan.faults.as_ref().and_then(|f| f.stall_from_us),
            recovery: Some(plan.recovery.name().to_string()),
            transport: (!ctx.target.transport.is_default()).then(|| ctx.target.transport.clone()),
        })
        .collect()
}

/// The result of a technique whose clients could not even be started.
fn not_started(ctx: &RunCtx, tech: Technique, why: String) -> TechniqueResult {
    TechniqueResult {
        failure: Some(why),
        ..TechniqueResult::empty(tech, ctx.cfg.topics, ctx.cfg.payload_bytes)
    }
}

/// What the phases of one technique measured, before it is put together.
struct Measured<'a> {
    plan: &'a GroupPlan,
    rec: &'a Recorder,
    before: Before,
    steady: Steady,
    publisher: &'a PublisherStats,
    server_after: Option<TechniqueStats>,
    peaks: Peaks,
}

/// CPU seconds between two samples of a process, if both were taken.
pub(crate) fn cpu_between(a: Option<ProcSample>, b: Option<ProcSample>) -> Option<f64> {
    Some((b?.cpu_s - a?.cpu_s).max(0.0))
}

/// The larger of two, or whichever is known.
pub(crate) fn max_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// The later snapshot's counters since the earlier one, if both were taken.
pub(crate) fn between(
    pair: (Option<TechniqueStats>, Option<TechniqueStats>),
) -> Option<TechniqueStats> {
    Some(pair.1?.since(&pair.0?))
}

impl Measured<'_> {
    /// The technique's result, and whether it failed: the run's reason if it was stopped,
    /// else the workers' and [`verdict::judge`]'s (it ran to its end with nothing to show).
    fn result(self, ctx: &RunCtx, closed: Closed, links: &PhaseLinks) -> TechniqueResult {
        let cfg = &ctx.cfg;
        let s = &self.steady;
        let rss = |p: (Option<ProcSample>, Option<ProcSample>)| {
            max_opt(p.0.map(|p| p.rss_bytes), p.1.map(|p| p.rss_bytes))
        };
        let own_cpu = cpu_between(s.loadgen_proc.0, s.loadgen_proc.1);
        let delivered = closed.raw.phase.delivered;
        let workers = closed.workers.as_ref();
        let expected = self.plan.expected(|t| self.rec.window.len(t));
        let fault = faults::summary(cfg, &closed.raw, expected, s.restarts);
        let mut result = TechniqueResult {
            raw: closed.raw,
            topics: cfg.topics,
            payload_bytes: cfg.payload_bytes,
            duration: s.duration,
            window_start: s.start,
            published: self.plan.published(|t| self.rec.window.len(t)),
            expected,
            publish_failures: self.publisher.failures.load(Relaxed),
            publish_lag_max_us: self.publisher.max_lag_us.load(Relaxed),
            server_window: between(s.server),
            // Counters across a restart start again from zero: unknown, not wrong.
            server_phase: match s.restarts {
                0 => between((self.before.stats, self.server_after)),
                _ => None,
            },
            server_cpu_s: s.server_cpu_s,
            broker: s.broker.and_then(|w| broker::figures(ctx, w, delivered)),
            server_rss_bytes: max_opt(self.peaks.server_rss_max, rss(s.server_proc)),
            server_rss_idle_bytes: self.before.rss_bytes,
            // With worker processes: this process's CPU and peak plus the sum of theirs.
            loadgen_cpu_s: match workers {
                Some(w) => own_cpu.zip(w.loadgen_cpu_s).map(|(a, b)| a + b),
                None => own_cpu,
            },
            loadgen_rss_bytes: max_opt(self.peaks.loadgen_rss_max, rss(s.loadgen_proc))
                .map(|r| r + workers.and_then(|w| w.loadgen_rss_bytes).unwrap_or(0)),
            clients_not_closed: closed.not_closed,
            failure: None,
            link: links.figures(cfg, workers),
            skipped: None,
            fault,
            server_restarts: s.restarts,
            request: None,
        };
        let after_restart = s
            .delivered_at_restart
            .map(|at| self.rec.counters.delivered.load(Relaxed).saturating_sub(at));
        result.failure = if ctx.shutdown.is_cancelled() {
            ctx.failure()
        } else {
            let workers_failed = workers
                .filter(|w| !w.failures.is_empty())
                .map(|w| w.failures.join("; "));
            let judged = verdict::judge(&result, Some(&self.publisher.publishing()));
            let judged = verdict::join(judged, verdict::after_restart(after_restart));
            verdict::join(workers_failed, judged)
        };
        result
    }
}
