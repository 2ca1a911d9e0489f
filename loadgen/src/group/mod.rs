//! One technique's clients, wherever they run: in this process ([`local`]) or split over
//! `pushbench worker` processes ([`pool`]) that speak the [`protocol`]. [`Clients`] is either
//! behind one interface, so the phases ([`crate::measure`]) read the same whichever it is.

pub mod local;
pub mod pool;
pub mod protocol;
pub mod totals;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::stats::{Recorder, Snapshot};
use crate::sut::sampler::Sampler;
pub use local::{ClientGroup, GroupPlan, RawResult};
use pool::WorkerPool;
use protocol::{WindowSpec, WorkerPlan};
pub use totals::WorkerTotals;

/// Time worker processes get to report they ramped up, past the ramp itself and the connect
/// timeout (a worker must start, read its plan and connect its share).
const WORKER_RAMP_GRACE: Duration = Duration::from_secs(10);

/// One technique's clients.
#[derive(Debug)]
pub enum Clients {
    /// In this process.
    Local(ClientGroup),
    /// Split over worker processes, whose counters are summed into the pool's recorder.
    Workers { pool: WorkerPool, plan: GroupPlan },
}

/// What closing the clients gave.
#[derive(Debug)]
pub struct Closed {
    pub raw: RawResult,
    /// Clients that did not close in time and were aborted.
    pub not_closed: usize,
    /// With worker processes: their figures added up (CPU, RSS, failures).
    pub workers: Option<WorkerTotals>,
}

impl Clients {
    /// The clients of `plan`, in this process (none started yet).
    pub fn local(plan: GroupPlan) -> Clients {
        Clients::Local(ClientGroup::new(plan))
    }

    /// The clients of `plan` split over worker processes, one per plan of `plans` (started
    /// now: `exe worker`, or the shell `command`; see [`WorkerPool::start`]).
    pub async fn workers(
        plan: GroupPlan,
        exe: &Path,
        command: Option<&str>,
        plans: Vec<WorkerPlan>,
        sampler: Arc<Sampler>,
    ) -> std::io::Result<Clients> {
        let rec = Arc::new(Recorder::new(plan.technique, plan.topics.len()));
        let pool = WorkerPool::start(exe, command, plans, rec, sampler).await?;
        Ok(Clients::Workers { pool, plan })
    }

    /// What they run.
    pub fn plan(&self) -> &GroupPlan {
        match self {
            Clients::Local(g) => &g.plan,
            Clients::Workers { plan, .. } => plan,
        }
    }

    /// Their counters (with workers: the sum of the workers' latest reports).
    pub fn rec(&self) -> Arc<Recorder> {
        match self {
            Clients::Local(g) => g.rec.clone(),
            Clients::Workers { pool, .. } => pool.rec.clone(),
        }
    }

    /// Starts the clients at the ramp-up rate; workers each ramp their share at their share of
    /// the rate and are waited for until each says it ramped (or died, or took too long).
    /// Returns early, with fewer started, on `stop`.
    pub async fn ramp_up(&mut self, stop: &CancellationToken) {
        match self {
            Clients::Local(g) => g.ramp_up(stop).await,
            Clients::Workers { pool, plan } => {
                let ramp = Duration::from_secs_f64(f64::from(plan.clients) / plan.ramp_up);
                let by = Instant::now() + ramp + plan.connect_timeout + WORKER_RAMP_GRACE;
                pool.ramped(stop, by).await;
            }
        }
    }

    /// Tells the clients the steady-state window (or narrows it, for a run cut short). Clients
    /// in this process need not be told: the publisher marks their recorder's window itself.
    pub async fn window(&mut self, w: &WindowSpec) {
        if let Clients::Workers { pool, .. } = self {
            pool.window(w).await;
        }
    }

    /// Closes every client (each gets `timeout`) and returns their raw results; `window`: the
    /// counters at the window's start and end (workers snapshot their own).
    pub async fn close(&mut self, timeout: Duration, window: (Snapshot, Snapshot)) -> Closed {
        match self {
            Clients::Local(g) => {
                let not_closed = g.close(timeout).await;
                Closed {
                    raw: g.raw(window.0, window.1),
                    not_closed,
                    workers: None,
                }
            }
            Clients::Workers { pool, plan } => {
                let mut totals = pool.close(timeout).await;
                let raw = std::mem::replace(&mut totals.raw, RawResult::empty(plan.technique));
                Closed {
                    raw,
                    not_closed: totals.clients_not_closed,
                    workers: Some(totals),
                }
            }
        }
    }
}
