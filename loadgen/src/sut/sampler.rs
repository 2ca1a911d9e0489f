//! Once a second: the current technique's counters (as per-second deltas), the p99 of the
//! messages received in that second, the server's CPU and memory (from /proc for a child,
//! from `/stats` for a `--target`) and the load generator's own: the rows of timeseries.csv
//! ([`TimeseriesRow`]).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::stats::{Recorder, Snapshot};
use crate::sut::procfs::{self, ProcSample};
use crate::sut::target::Target;
use contract::run_dir::TimeseriesRow;

/// Where the server's CPU and memory come from.
#[derive(Debug, Clone)]
pub enum ServerProbe {
    /// A child process: /proc/<pid>.
    Child(u32),
    /// A `--target`: its `/stats` (`process.cpu_seconds`, `process.rss_bytes`), if it has one.
    Remote(Box<Target>, Duration),
}

impl ServerProbe {
    /// One sample of the server process, `None` if unknown.
    pub async fn sample(&self) -> Option<ProcSample> {
        match self {
            // The process and its children: a `--server-processes` supervisor and its workers.
            ServerProbe::Child(pid) => procfs::sample_tree(*pid),
            ServerProbe::Remote(t, timeout) => {
                let p = t.stats(*timeout).await?.process?;
                Some(ProcSample {
                    cpu_s: p.cpu_seconds,
                    rss_bytes: p.rss_bytes,
                })
            }
        }
    }
}

fn same_probe(a: &Option<ServerProbe>, b: &Option<ServerProbe>) -> bool {
    match (a, b) {
        (Some(ServerProbe::Child(x)), Some(ServerProbe::Child(y))) => x == y,
        (Some(ServerProbe::Remote(x, _)), Some(ServerProbe::Remote(y, _))) => x.url == y.url,
        (None, None) => true,
        _ => false,
    }
}

/// The phase a technique is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    RampUp,
    Warmup,
    Steady,
    Drain,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::RampUp => "ramp-up",
            Phase::Warmup => "warmup",
            Phase::Steady => "steady",
            Phase::Drain => "drain",
        }
    }
}

#[derive(Debug)]
struct Current {
    rec: Arc<Recorder>,
    phase: Phase,
    last: Snapshot,
    last_at: Instant,
    /// Highest server / load-generator RSS seen while in the steady phase.
    server_rss_max: Option<u64>,
    loadgen_rss_max: Option<u64>,
}

/// Shared state between the sampler task and the orchestrator.
#[derive(Debug)]
pub struct Sampler {
    run_start: Instant,
    probe: Mutex<Option<ServerProbe>>,
    current: Mutex<Option<Current>>,
    rows: Mutex<Vec<TimeseriesRow>>,
    /// What worker processes reported since the last row (with `--processes N`).
    extra: Mutex<Extra>,
}

#[derive(Debug)]
struct Extra {
    interval: hdrhistogram::Histogram<u64>,
    loadgen_cpu_s: f64,
}

/// The highest RSS samples of one technique's steady phase.
#[derive(Debug, Clone, Copy, Default)]
pub struct Peaks {
    pub server_rss_max: Option<u64>,
    pub loadgen_rss_max: Option<u64>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Sampler {
    pub fn new(run_start: Instant, probe: Option<ServerProbe>) -> Arc<Sampler> {
        Arc::new(Sampler {
            run_start,
            probe: Mutex::new(probe),
            current: Mutex::new(None),
            rows: Mutex::new(Vec::new()),
            extra: Mutex::new(Extra {
                interval: crate::stats::new_histogram(),
                loadgen_cpu_s: 0.0,
            }),
        })
    }

    /// Latencies of messages a worker process received since its last report (added to the
    /// current second's p99).
    pub fn add_interval(&self, h: &hdrhistogram::Histogram<u64>) {
        let _ = lock(&self.extra).interval.add(h);
    }

    /// CPU seconds a worker process used since its last report (added to the load
    /// generator's CPU of the current second).
    pub fn add_loadgen_cpu(&self, s: f64) {
        lock(&self.extra).loadgen_cpu_s += s;
    }

    /// Where the server's CPU and memory come from from now on (a fresh child server).
    pub fn set_probe(&self, probe: Option<ServerProbe>) {
        *lock(&self.probe) = probe;
    }

    fn probe(&self) -> Option<ServerProbe> {
        lock(&self.probe).clone()
    }

    /// Starts sampling technique `rec` (phase ramp-up).
    pub fn begin(&self, rec: Arc<Recorder>) {
        let last = rec.snapshot();
        rec.take_interval();
        *lock(&self.current) = Some(Current {
            rec,
            phase: Phase::RampUp,
            last,
            last_at: Instant::now(),
            server_rss_max: None,
            loadgen_rss_max: None,
        });
    }

    pub fn set_phase(&self, phase: Phase) {
        if let Some(c) = lock(&self.current).as_mut() {
            c.phase = phase;
        }
    }

    /// Stops sampling the current technique; returns its steady-phase peaks.
    pub fn end(&self) -> Peaks {
        lock(&self.current)
            .take()
            .map(|c| Peaks {
                server_rss_max: c.server_rss_max,
                loadgen_rss_max: c.loadgen_rss_max,
            })
            .unwrap_or_default()
    }

    /// The rows so far.
    pub fn rows(&self) -> Vec<TimeseriesRow> {
        lock(&self.rows).clone()
    }

    /// Samples once a second until `stop`.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        let mut probe = self.probe();
        let mut last_server: Option<ProcSample> = match &probe {
            Some(p) => p.sample().await,
            None => None,
        };
        let mut last_self = procfs::sample("self");
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let now_probe = self.probe();
            if !same_probe(&now_probe, &probe) {
                // A new server process: its CPU counter starts again.
                last_server = None;
                probe = now_probe;
            }
            let server = match &probe {
                Some(p) => p.sample().await,
                None => None,
            };
            let me = procfs::sample("self");
            let cpu_delta =
                |now: Option<ProcSample>, before: Option<ProcSample>| match (now, before) {
                    (Some(n), Some(b)) => Some((n.cpu_s - b.cpu_s).max(0.0)),
                    _ => None,
                };
            let server_cpu = cpu_delta(server, last_server);
            let self_cpu = cpu_delta(me, last_self);
            last_server = server.or(last_server);
            last_self = me.or(last_self);
            self.record(server, server_cpu, me, self_cpu);
        }
    }

    fn record(
        &self,
        server: Option<ProcSample>,
        server_cpu: Option<f64>,
        me: Option<ProcSample>,
        self_cpu: Option<f64>,
    ) {
        let mut cur = lock(&self.current);
        let Some(c) = cur.as_mut() else { return };
        let now = Instant::now();
        let snap = c.rec.snapshot();
        let d = snap.since(&c.last);
        let secs = now.duration_since(c.last_at).as_secs_f64().max(1e-3);
        let mut interval = c.rec.take_interval();
        let (extra_cpu, extra_seen) = {
            let mut e = lock(&self.extra);
            let _ = interval.add(&e.interval);
            e.interval.reset();
            let cpu = std::mem::take(&mut e.loadgen_cpu_s);
            (cpu, cpu > 0.0)
        };
        let p99 = (!interval.is_empty()).then(|| interval.value_at_quantile(0.99));
        if c.phase == Phase::Steady {
            if let Some(s) = server {
                c.server_rss_max = Some(c.server_rss_max.unwrap_or(0).max(s.rss_bytes));
            }
            if let Some(m) = me {
                c.loadgen_rss_max = Some(c.loadgen_rss_max.unwrap_or(0).max(m.rss_bytes));
            }
        }
        let round3 = |x: f64| (x * 1000.0).round() / 1000.0;
        let per_s = |n: u64| Some(round3(n as f64 / secs));
        let row = TimeseriesRow {
            t_s: round3(now.duration_since(self.run_start).as_secs_f64()),
            technique: c.rec.technique,
            phase: Some(c.phase.name().to_string()),
            connections: Some(snap.connections),
            delivered_per_s: per_s(d.received_total),
            latency_p99_us: p99,
            bytes_down_per_s: per_s(d.bytes_down),
            bytes_up_per_s: per_s(d.bytes_up),
            requests_per_s: per_s(d.requests),
            server_cpu_s: server_cpu.map(round3),
            server_rss_bytes: server.map(|s| s.rss_bytes),
            loadgen_cpu_s: match self_cpu {
                Some(c) => Some(c + extra_cpu),
                None if extra_seen => Some(extra_cpu),
                None => None,
            }
            .map(round3),
            repetition: None,
        };
        c.last = snap;
        c.last_at = now;
        drop(cur);
        lock(&self.rows).push(row);
    }
}
