//! The phases of one technique, in order, each a function over the run's [`RunCtx`]:
//! [`before`] (the server as it was before the first connect), [`ramp_up`], [`warm_up`]
//! (the publisher starts), [`steady`] (the measured window, snapshotted at both edges),
//! [`drain`] (the publisher stops; in-flight deliveries arrive) and [`after`] (the server once
//! it has seen the clients close).

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant, SystemTime};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{RunCtx, restart, wait};
use crate::group::Clients;
use crate::group::protocol::WindowSpec;
use crate::link::Link;
use crate::payload;
use crate::publisher::{self, PublisherStats, Schedule};
use crate::stats::{Recorder, Snapshot};
use crate::sut::procfs::{self, ProcSample};
use crate::sut::sampler::Phase;
use crate::sut::target::TechniqueStats;
use crate::technique::Technique;

/// The server before the technique's first connection.
#[derive(Debug, Clone, Copy)]
pub struct Before {
    /// Its resident memory (idle, with a fresh server per technique).
    pub rss_bytes: Option<u64>,
    /// Its counters of this technique.
    pub stats: Option<TechniqueStats>,
}

/// Snapshots the server before the first connect. Worker processes start connecting as soon
/// as they have their plan, so this must come before they are started: a snapshot taken after
/// could already hold a client's request and bytes (a cluster's `/stats` takes a round trip
/// through its supervisor, long enough for a worker to connect), which the phase would miss.
pub async fn before(ctx: &RunCtx, tech: Technique) -> Before {
    Before {
        rss_bytes: ctx.server_sample().await.map(|s| s.rss_bytes),
        stats: ctx.server_stats(tech).await,
    }
}

/// Ramp-up: starts the clients, then gives them up to the connect timeout to connect.
pub async fn ramp_up(ctx: &RunCtx, clients: &mut Clients) {
    let rec = clients.rec();
    let n = ctx.cfg.clients;
    ctx.progress.update(&rec, Phase::RampUp.name(), n, None);
    clients.ramp_up(&ctx.shutdown).await;
    let connected_by = Instant::now() + ctx.cfg.connect_timeout;
    ctx.wait(&rec, Phase::RampUp, connected_by, || {
        wait::connected(&rec, u64::from(n))
    })
    .await;
}

/// The publisher, running on its schedule, and the window it marks.
#[derive(Debug)]
pub struct Warm {
    pub window: WindowSpec,
    pub steady_end: Instant,
    pub stats: Arc<PublisherStats>,
    task: JoinHandle<()>,
    stop: CancellationToken,
}

/// Warm-up: starts the publisher on its schedule (telling worker processes the window before
/// its first message is due, a warm-up away) and waits until the steady state begins.
pub async fn warm_up(ctx: &RunCtx, clients: &mut Clients, link: Option<Link>) -> Warm {
    let cfg = &ctx.cfg;
    let rec = clients.rec();
    let topics = clients.plan().topics.clone();
    ctx.sampler.set_phase(Phase::Warmup);
    let t0 = Instant::now();
    let t0_wall_us = payload::to_us(SystemTime::now());
    let steady_start = t0 + cfg.warmup;
    let steady_end = steady_start + cfg.duration;
    let window = WindowSpec {
        seqs: publisher::window_of(topics.len(), cfg.rate, cfg.warmup, cfg.duration)
            .into_iter()
            .map(|r| r.map(|(f, l)| [f, l]))
            .collect(),
        start_us: t0_wall_us + cfg.warmup.as_micros() as u64,
        end_us: t0_wall_us + (cfg.warmup + cfg.duration).as_micros() as u64,
    };
    clients.window(&window).await;
    let schedule = Schedule {
        topics,
        rate: cfg.rate,
        payload_bytes: cfg.payload_bytes,
        t0,
        t0_wall_us,
        steady_start,
        steady_end,
        connect_timeout: cfg.connect_timeout,
        request_timeout: cfg.read_timeout,
        link,
    };
    let stats = Arc::new(PublisherStats::default());
    let stop = ctx.shutdown.child_token();
    let task = tokio::spawn(publisher::run(
        ctx.target.clone(),
        schedule,
        rec.clone(),
        stats.clone(),
        stop.clone(),
    ));
    ctx.wait(&rec, Phase::Warmup, steady_start, || false).await;
    Warm {
        window,
        steady_end,
        stats,
        task,
        stop,
    }
}

/// The measured window: when it was and what was snapshotted at its edges.
#[derive(Debug, Clone, Copy)]
pub struct Steady {
    /// Wall-clock start of the window.
    pub start: SystemTime,
    /// Its length as measured (0 when the run was stopped before it began).
    pub duration: Duration,
    /// Client counters at the start and the end.
    pub clients: (Snapshot, Snapshot),
    /// The server's counters of this technique.
    pub server: (Option<TechniqueStats>, Option<TechniqueStats>),
    /// The server's processes.
    pub server_proc: (Option<ProcSample>, Option<ProcSample>),
    /// This process.
    pub loadgen_proc: (Option<ProcSample>, Option<ProcSample>),
    /// The server's CPU seconds over the window (None: unknown).
    pub server_cpu_s: Option<f64>,
    /// Server restarts done in the window (the `restart-server` fault).
    pub restarts: u64,
    /// Messages delivered when the server had been restarted (None: no restart).
    pub delivered_at_restart: Option<u64>,
    /// The child broker over the window (None: no `--broker`).
    pub broker: Option<super::broker::BrokerWindow>,
}

/// Steady state, until `end`: the counters, the server's and the CPU are read at both edges
/// (nothing is measured if the run was stopped during warm-up).
pub async fn steady(ctx: &RunCtx, tech: Technique, rec: &Recorder, end: Instant) -> Steady {
    if ctx.shutdown.is_cancelled() {
        let c = rec.snapshot();
        return Steady {
            start: SystemTime::now(),
            duration: Duration::ZERO,
            clients: (c, c),
            server: (None, None),
            server_proc: (None, None),
            loadgen_proc: (None, None),
            server_cpu_s: None,
            restarts: 0,
            delivered_at_restart: None,
            broker: None,
        };
    }
    ctx.sampler.set_phase(Phase::Steady);
    let started = Instant::now();
    let start = SystemTime::now();
    let c0 = rec.snapshot();
    let s0 = ctx.server_stats(tech).await;
    let p0 = ctx.server_sample().await;
    let l0 = procfs::sample("self");
    let b0 = super::broker::mark(ctx).await;
    let due = restart::due(ctx, started, end);
    let broker_due = super::broker::due(ctx, started, end);
    let (_, restarted, broker_restarts) = tokio::join!(
        ctx.wait(rec, Phase::Steady, end, || false),
        restart::in_window(ctx, tech, rec, due),
        super::broker::restart_in_window(ctx, tech, broker_due)
    );
    let broker = super::broker::window(ctx, b0, broker_restarts).await;
    let duration = started.elapsed();
    let c1 = rec.snapshot();
    let s1 = ctx.server_stats(tech).await;
    let Some(r) = restarted else {
        let p1 = ctx.server_sample().await;
        return Steady {
            start,
            duration,
            clients: (c0, c1),
            server: (s0, s1),
            server_proc: (p0, p1),
            loadgen_proc: (l0, procfs::sample("self")),
            server_cpu_s: p0.zip(p1).map(|(a, b)| (b.cpu_s - a.cpu_s).max(0.0)),
            restarts: 0,
            delivered_at_restart: None,
            broker,
        };
    };
    // The new process is sampled from now on; its counters started again from zero, so the
    // window's server counters (a difference across the restart) are unknown.
    let p1 = r.restarted.probe.sample().await;
    Steady {
        start,
        duration,
        clients: (c0, c1),
        server: (None, None),
        server_proc: (p0, p1),
        loadgen_proc: (l0, procfs::sample("self")),
        server_cpu_s: restart::cpu_across(p0.map(|p| p.cpu_s), &r.restarted, p1.map(|p| p.cpu_s)),
        restarts: 1,
        delivered_at_restart: Some(r.delivered_at),
        broker,
    }
}

/// Drain: the publisher stops at the window's end (at the latest a read timeout after the
/// drain); worker processes learn the window as the publisher marked it (a run cut short ends
/// it early); then waits for every expected delivery or the drain's end. Ctrl-C shortens the
/// drain to a second at most but does not cut it.
pub async fn drain(ctx: &RunCtx, clients: &mut Clients, warm: Warm) -> Arc<PublisherStats> {
    let cfg = &ctx.cfg;
    let rec = clients.rec();
    ctx.sampler.set_phase(Phase::Drain);
    let drain = if ctx.shutdown.is_cancelled() {
        cfg.drain.min(Duration::from_secs(1))
    } else {
        cfg.drain
    };
    let drain_end = Instant::now() + drain;
    let publisher_deadline = drain_end + cfg.read_timeout;
    if tokio::time::timeout_at(publisher_deadline.into(), warm.task)
        .await
        .is_err()
    {
        warm.stop.cancel();
    }
    let marked = warm.window.as_marked(&rec.window, payload::now_us());
    if marked.seqs != warm.window.seqs {
        clients.window(&marked).await;
    }
    let plan = clients.plan();
    let all_delivered = || {
        let expected = plan.expected(|t| rec.window.len(t));
        expected > 0 && rec.counters.delivered.load(Relaxed) >= expected
    };
    let show = |left| {
        ctx.progress
            .update(&rec, Phase::Drain.name(), cfg.clients, Some(left))
    };
    wait::until(drain_end, None, show, all_delivered).await;
    warm.stats
}

/// The server's counters once it has seen the clients close: it is given up to 2 s to report
/// no open connection of this technique.
pub async fn after(ctx: &RunCtx, tech: Technique) -> Option<TechniqueStats> {
    let settle = Instant::now() + Duration::from_secs(2);
    let mut stats = ctx.server_stats(tech).await;
    while stats.is_some_and(|s| s.connections > 0) && Instant::now() < settle {
        tokio::time::sleep(Duration::from_millis(50)).await;
        stats = ctx.server_stats(tech).await;
    }
    stats
}
