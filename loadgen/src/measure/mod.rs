//! One technique's measurement, phase by phase: ramp-up (connect the clients), warm-up
//! (publisher running), steady state (the measured window), drain (publisher stopped, wait for
//! in-flight deliveries, then close the clients). Server counters are snapshotted at the
//! window's start and end and around the whole phase (before the first connect, after the last
//! close); CPU is read at the window's edges. Shared by clients in this process and clients in
//! worker processes ([`crate::group`]); the worker command waits with [`wait`] as the phases do.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio_util::sync::CancellationToken;

pub mod progress;
pub mod result;
pub mod verdict;
pub mod wait;

use crate::config::RunConfig;
use crate::group::pool::{self, WorkerPool};
use crate::group::protocol::{WindowSpec, WorkerPlan};
use crate::group::{ClientGroup, GroupPlan, RawResult};
use crate::payload;
use crate::publisher::{self, PublisherStats, Schedule};
use crate::stats::Recorder;
use crate::sut::procfs::{self, ProcSample};
use crate::sut::sampler::{Phase, Sampler, ServerProbe};
use crate::sut::target::{Target, TechniqueStats};
use crate::technique::Technique;
use progress::Progress;
pub use result::TechniqueResult;

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
}

impl RunCtx {
    fn stats_timeout(&self) -> Duration {
        self.cfg.connect_timeout.min(Duration::from_secs(2))
    }
    async fn server_stats(&self, t: Technique) -> Option<TechniqueStats> {
        self.target.stats(self.stats_timeout()).await?.technique(t)
    }
    async fn server_sample(&self) -> Option<ProcSample> {
        match &self.probe {
            Some(p) => p.sample().await,
            None => None,
        }
    }
}

/// Waits until `deadline` or `done()` or shutdown, updating the progress line.
async fn wait(
    ctx: &RunCtx,
    rec: &Recorder,
    phase: Phase,
    clients: u32,
    deadline: Instant,
    mut done: impl FnMut() -> bool,
) -> bool {
    wait_with(ctx, rec, phase, clients, deadline, true, &mut done).await
}

async fn wait_with(
    ctx: &RunCtx,
    rec: &Recorder,
    phase: Phase,
    clients: u32,
    deadline: Instant,
    honor_shutdown: bool,
    done: &mut dyn FnMut() -> bool,
) -> bool {
    let stop = honor_shutdown.then_some(&ctx.shutdown);
    let show = |left| ctx.progress.update(rec, phase.name(), clients, Some(left));
    wait::until(deadline, stop, show, done).await
}

fn cpu_between(a: Option<ProcSample>, b: Option<ProcSample>) -> Option<f64> {
    Some((b?.cpu_s - a?.cpu_s).max(0.0))
}

/// Measures technique `tech`: ramp-up, warm-up, steady state, drain, close.
pub async fn run_technique(ctx: &RunCtx, tech: Technique) -> TechniqueResult {
    let cfg = &ctx.cfg;
    let topics: Vec<String> = (0..cfg.topics)
        .map(|i| format!("pb-{}-{}-{i}", ctx.run_id, tech.name()))
        .collect();
    let plan = GroupPlan {
        technique: tech,
        target: ctx.target.clone(),
        topics: topics.clone(),
        clients: cfg.clients,
        ramp_up: cfg.ramp_up,
        source_addrs: cfg.client_addrs(),
        poll_interval: cfg.poll_interval,
        long_poll_timeout: cfg.long_poll_timeout,
        connect_timeout: cfg.connect_timeout,
        read_timeout: cfg.read_timeout,
        seed: cfg.seed,
        first_index: 0,
    };
    let n = cfg.clients;

    // Before the first connect. Worker processes start connecting as soon as they have their
    // plan, so this must come before they are started: a snapshot taken after could already
    // hold a client's request and bytes (a cluster's `/stats` takes a round trip through its
    // supervisor, long enough for a worker to connect), which the phase would then miss.
    let server_rss_idle = ctx.server_sample().await.map(|s| s.rss_bytes);
    let server_phase_start = ctx.server_stats(tech).await;
    let mut clients = if cfg.processes > 1 {
        let rec = Arc::new(Recorder::new(tech, topics.len()));
        let plans = worker_plans(ctx, &plan);
        let exe = std::env::current_exe();
        let pool = match exe {
            Ok(exe) => {
                let cmd = cfg.worker_command.as_deref();
                WorkerPool::start(&exe, cmd, plans, rec.clone(), ctx.sampler.clone()).await
            }
            Err(e) => Err(e),
        };
        match pool {
            Ok(p) => Clients::Pool(p),
            Err(e) => return not_started(ctx, tech, format!("cannot start worker processes: {e}")),
        }
    } else {
        Clients::Local(Box::new(ClientGroup::new(plan.clone())))
    };
    let rec = clients.rec();
    ctx.sampler.begin(rec.clone());

    // Ramp-up: start the clients, then give them up to the connect timeout to connect.
    ctx.progress.update(&rec, Phase::RampUp.name(), n, None);
    match &mut clients {
        Clients::Local(g) => g.ramp_up(&ctx.shutdown).await,
        Clients::Pool(p) => {
            // Each worker ramps its share at its share of the rate, then waits for connects.
            let ramp = Duration::from_secs_f64(f64::from(n) / cfg.ramp_up);
            let by = Instant::now() + ramp + cfg.connect_timeout + Duration::from_secs(10);
            p.ramped(&ctx.shutdown, by).await;
        }
    }
    let connected_by = Instant::now() + cfg.connect_timeout;
    let r = rec.clone();
    wait(ctx, &rec, Phase::RampUp, n, connected_by, || {
        wait::connected(&r, u64::from(n))
    })
    .await;

    // Warm-up: the publisher starts on its schedule.
    ctx.sampler.set_phase(Phase::Warmup);
    let t0 = Instant::now();
    let t0_wall = SystemTime::now();
    let steady_start = t0 + cfg.warmup;
    let steady_end = steady_start + cfg.duration;
    let t0_wall_us = payload::to_us(t0_wall);
    let window = WindowSpec {
        seqs: publisher::window_of(topics.len(), cfg.rate, cfg.warmup, cfg.duration)
            .into_iter()
            .map(|r| r.map(|(f, l)| [f, l]))
            .collect(),
        start_us: t0_wall_us + cfg.warmup.as_micros() as u64,
        end_us: t0_wall_us + (cfg.warmup + cfg.duration).as_micros() as u64,
    };
    if let Clients::Pool(p) = &mut clients {
        // Told before the first message of the window is due (a warm-up away).
        p.window(&window).await;
    }
    let pstats = Arc::new(PublisherStats::default());
    let pub_stop = ctx.shutdown.child_token();
    let publisher = tokio::spawn(publisher::run(
        ctx.target.clone(),
        Schedule {
            topics,
            rate: cfg.rate,
            payload_bytes: cfg.payload_bytes,
            t0,
            t0_wall_us,
            steady_start,
            steady_end,
            connect_timeout: cfg.connect_timeout,
            request_timeout: cfg.read_timeout,
        },
        rec.clone(),
        pstats.clone(),
        pub_stop.clone(),
    ));
    wait(ctx, &rec, Phase::Warmup, n, steady_start, || false).await;

    // Steady state.
    let mut actual_start = Instant::now();
    let mut window_wall = SystemTime::now();
    let mut c0 = rec.snapshot();
    let mut s0 = None;
    let mut p0 = None;
    let mut l0 = None;
    let mut measured = false;
    if !ctx.shutdown.is_cancelled() {
        ctx.sampler.set_phase(Phase::Steady);
        actual_start = Instant::now();
        window_wall = SystemTime::now();
        c0 = rec.snapshot();
        s0 = ctx.server_stats(tech).await;
        p0 = ctx.server_sample().await;
        l0 = procfs::sample("self");
        wait(ctx, &rec, Phase::Steady, n, steady_end, || false).await;
        measured = true;
    }
    let actual_end = Instant::now();
    let c1 = rec.snapshot();
    let (s1, p1, l1) = if measured {
        (
            ctx.server_stats(tech).await,
            ctx.server_sample().await,
            procfs::sample("self"),
        )
    } else {
        (None, None, None)
    };

    // Drain: the publisher stops at the window's end; wait for in-flight deliveries.
    ctx.sampler.set_phase(Phase::Drain);
    let interrupted = ctx.shutdown.is_cancelled();
    let drain = if interrupted {
        cfg.drain.min(Duration::from_secs(1))
    } else {
        cfg.drain
    };
    let drain_end = Instant::now() + drain;
    let pub_deadline = drain_end + cfg.read_timeout;
    if tokio::time::timeout_at(pub_deadline.into(), publisher)
        .await
        .is_err()
    {
        pub_stop.cancel();
    }
    if let Clients::Pool(p) = &mut clients {
        // A run cut short ends its window early: tell the workers what the publisher marked.
        let marked = window.as_marked(&rec.window, payload::now_us());
        if marked.seqs != window.seqs {
            p.window(&marked).await;
        }
    }
    let expected_of = |rec: &Recorder| plan.expected(|t| rec.window.len(t));
    // Drain is not cut short by Ctrl-C (it is already shortened then).
    let r = rec.clone();
    wait_with(ctx, &rec, Phase::Drain, n, drain_end, false, &mut || {
        let e = expected_of(&r);
        e > 0
            && r.counters
                .delivered
                .load(std::sync::atomic::Ordering::Relaxed)
                >= e
    })
    .await;

    // Close the clients, then let the server see the closes before its last snapshot.
    let (raw, not_closed, workers) = match &mut clients {
        Clients::Local(g) => {
            let n = g.close(cfg.connect_timeout).await;
            (g.raw(c0, c1), n, None)
        }
        Clients::Pool(p) => {
            let mut r = p.close(cfg.connect_timeout).await;
            let raw = std::mem::replace(&mut r.raw, RawResult::empty(tech));
            let n = r.clients_not_closed;
            (raw, n, Some(r))
        }
    };
    let settle = Instant::now() + Duration::from_secs(2);
    let mut server_phase_end = ctx.server_stats(tech).await;
    while server_phase_end.is_some_and(|s| s.connections > 0) && Instant::now() < settle {
        tokio::time::sleep(Duration::from_millis(50)).await;
        server_phase_end = ctx.server_stats(tech).await;
    }
    let peaks = ctx.sampler.end();
    let published = plan.published(|t| rec.window.len(t));
    let duration = if measured {
        actual_end.duration_since(actual_start)
    } else {
        Duration::ZERO
    };
    let max_opt = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let worker_failure = workers
        .as_ref()
        .filter(|w| !w.failures.is_empty())
        .map(|w| w.failures.join("; "));
    let add_opt = |a: Option<f64>, b: Option<f64>| Some(a? + b?);
    let (loadgen_cpu_s, worker_rss) = match &workers {
        Some(w) => (
            add_opt(cpu_between(l0, l1), w.loadgen_cpu_s),
            w.loadgen_rss_bytes,
        ),
        None => (cpu_between(l0, l1), None),
    };
    let _ = (c0, c1);
    let mut result = TechniqueResult {
        raw,
        topics: cfg.topics,
        payload_bytes: cfg.payload_bytes,
        duration,
        window_start: window_wall,
        published,
        expected: expected_of(&rec),
        publish_failures: pstats.failures.load(std::sync::atomic::Ordering::Relaxed),
        publish_lag_max_us: pstats.max_lag_us.load(std::sync::atomic::Ordering::Relaxed),
        server_window: match (s0, s1) {
            (Some(a), Some(b)) => Some(b.since(&a)),
            _ => None,
        },
        server_phase: match (server_phase_start, server_phase_end) {
            (Some(a), Some(b)) => Some(b.since(&a)),
            _ => None,
        },
        server_cpu_s: cpu_between(p0, p1),
        server_rss_bytes: max_opt(
            peaks.server_rss_max,
            max_opt(p0.map(|p| p.rss_bytes), p1.map(|p| p.rss_bytes)),
        ),
        server_rss_idle_bytes: server_rss_idle,
        loadgen_cpu_s,
        // With worker processes: this process's peak plus the sum of theirs.
        loadgen_rss_bytes: max_opt(
            peaks.loadgen_rss_max,
            max_opt(l0.map(|p| p.rss_bytes), l1.map(|p| p.rss_bytes)),
        )
        .map(|r| r + worker_rss.unwrap_or(0)),
        clients_not_closed: not_closed,
        failure: None,
    };
    result.failure = if ctx.shutdown.is_cancelled() {
        ctx.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    } else {
        // Ran to its end: it still failed if nothing got through (exit status 3).
        verdict::join(
            worker_failure,
            verdict::judge(&result, Some(&pstats.publishing())),
        )
    };
    result
}

/// The technique's clients: in this process, or split over worker processes.
enum Clients {
    Local(Box<ClientGroup>),
    Pool(WorkerPool),
}

impl Clients {
    fn rec(&self) -> Arc<Recorder> {
        match self {
            Clients::Local(g) => g.rec.clone(),
            Clients::Pool(p) => p.rec.clone(),
        }
    }
}

/// One plan per worker process: contiguous shares of the clients.
fn worker_plans(ctx: &RunCtx, plan: &GroupPlan) -> Vec<WorkerPlan> {
    let cfg = &ctx.cfg;
    let ms = |d: Duration| d.as_millis() as u64;
    pool::split(cfg.clients, cfg.processes)
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
