//! Sending a stream's events at their due times: the [`Pacer`] sleeps until each event's due
//! time (a monotonic instant mapped from the wall-clock due time through the instant the
//! stream was accepted), never skips one and never sends early, and sends at once when late.
//! It ends on the server's shutdown signal. The `stall` testing aid sleeps more before one
//! event without moving the schedule. [`Tally`] keeps a technique's `generate` counters.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use futures_util::FutureExt as _;
use tokio::time::Instant;

use super::request::{GenerateSpec, Stall};
use super::schedule::Schedule;
use crate::metrics::{Metrics, Technique};
use crate::state::State;
use crate::techniques::subscription::{Changed, changed};

/// The instant that wall-clock time `us` (µs since the epoch) maps to, given that `anchor`
/// was `anchor_us`. Times before the anchor map to it.
pub fn instant_of(anchor: Instant, anchor_us: u64, us: u64) -> Instant {
    anchor + Duration::from_micros(us.saturating_sub(anchor_us))
}

/// The stall's length.
pub fn stall_duration(stall: &Stall) -> Duration {
    Duration::from_secs_f64(stall.ms / 1000.0)
}

/// What the pacer has next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Send event `seq` (due at `due_us`) now.
    Event { seq: u64, due_us: u64 },
    /// Every event was sent.
    Done,
    /// The server is shutting down.
    Shutdown,
}

/// One stream's pacing. [`Pacer::next`] is cancel-safe: an event whose wait was cancelled is
/// the next one again.
pub struct Pacer {
    schedule: Schedule,
    anchor: Instant,
    stall: Option<Stall>,
    /// The event being waited for.
    pending: Option<(u64, u64)>,
    /// When the stall before the pending event ends, once it started.
    stall_until: Option<Instant>,
    signal: Changed,
    shut: bool,
}

impl std::fmt::Debug for Pacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pacer")
            .field("position", &self.schedule.position())
            .finish_non_exhaustive()
    }
}

impl Pacer {
    /// Paces `schedule` (whose start was the instant `anchor`) with `spec`'s stall.
    pub fn new(state: &State, spec: &GenerateSpec, schedule: Schedule, anchor: Instant) -> Pacer {
        Pacer {
            schedule,
            anchor,
            stall: spec.stall,
            pending: None,
            stall_until: None,
            signal: changed(state.signals.subscribe()),
            shut: false,
        }
    }

    /// Waits until the next event is due (and the stall before it, if any, has passed).
    pub async fn next(&mut self) -> Step {
        if self.shut || self.shutdown_now() {
            return Step::Shutdown;
        }
        let (seq, due_us) = match self.pending {
            Some(p) => p,
            None => match self.schedule.next() {
                Some(p) => {
                    self.pending = Some(p);
                    self.stall_until = None;
                    p
                }
                None => return Step::Done,
            },
        };
        let at = instant_of(self.anchor, self.schedule.start_us(), due_us);
        if !self.wait_until(at).await {
            return Step::Shutdown;
        }
        if let Some(s) = self.stall.filter(|s| s.at == seq) {
            let until = *self
                .stall_until
                .get_or_insert_with(|| Instant::now() + stall_duration(&s));
            if !self.wait_until(until).await {
                return Step::Shutdown;
            }
        }
        self.pending = None;
        Step::Event { seq, due_us }
    }

    /// Whether the shutdown signal came (looks without waiting).
    fn shutdown_now(&mut self) -> bool {
        if let Some((signals, ok)) = (&mut self.signal).now_or_never() {
            self.shut = !ok || signals.borrow().shutdown;
            self.signal = changed(signals);
        }
        self.shut
    }

    /// Sleeps until `at`; false when the server shuts down first.
    async fn wait_until(&mut self, at: Instant) -> bool {
        if at <= Instant::now() {
            return true;
        }
        let sleep = tokio::time::sleep_until(at);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => return true,
                (signals, ok) = &mut self.signal => {
                    self.shut = !ok || signals.borrow().shutdown;
                    self.signal = changed(signals);
                    if self.shut {
                        return false;
                    }
                }
            }
        }
    }
}

/// One stream in its technique's `generate` counters: started and open from its creation,
/// closed when dropped, completed if [`Tally::complete`] was called.
#[derive(Debug)]
pub struct Tally {
    metrics: Arc<Metrics>,
    technique: Technique,
    completed: bool,
}

impl Tally {
    /// Counts a stream of `technique` started (and open).
    pub fn start(metrics: Arc<Metrics>, technique: Technique) -> Tally {
        let g = &metrics.of(technique).generate;
        g.streams_started.fetch_add(1, Relaxed);
        g.streams_open.fetch_add(1, Relaxed);
        Tally {
            metrics,
            technique,
            completed: false,
        }
    }

    /// Counts `n` events sent.
    pub fn sent(&self, n: u64) {
        self.metrics
            .of(self.technique)
            .generate
            .events_sent
            .fetch_add(n, Relaxed);
    }

    /// The stream sent its last event and end marker.
    pub fn complete(&mut self) {
        self.completed = true;
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        let g = &self.metrics.of(self.technique).generate;
        g.streams_open.fetch_sub(1, Relaxed);
        if self.completed {
            g.streams_completed.fetch_add(1, Relaxed);
        }
    }
}

/// Counts a request of `technique` refused for its body.
pub fn bad_request(metrics: &Metrics, technique: Technique) {
    metrics
        .of(technique)
        .generate
        .bad_requests
        .fetch_add(1, Relaxed);
}
