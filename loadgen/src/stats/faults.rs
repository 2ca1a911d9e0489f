//! What the injected faults (`--fault`) do to one technique's clients, beside the
//! [`super::Recorder`]'s own counters: the time from a cut to the client's next delivered
//! message, and, with `stall-reader`, the latency of the stalled clients and of the others
//! apart. Cut, idle-cut, gap and stalled-client counts are [`super::Counters`] (they are
//! snapshotted at the window's edges like every counter).

use std::sync::Mutex;

use hdrhistogram::Histogram;

use super::{lock, new_histogram};

/// The fault histograms of one technique (all clients of this process).
#[derive(Debug)]
pub struct FaultStats {
    recovery: Mutex<Histogram<u64>>,
    stalled_latency: Mutex<Histogram<u64>>,
    others_latency: Mutex<Histogram<u64>>,
}

impl Default for FaultStats {
    fn default() -> Self {
        FaultStats {
            recovery: Mutex::new(new_histogram()),
            stalled_latency: Mutex::new(new_histogram()),
            others_latency: Mutex::new(new_histogram()),
        }
    }
}

/// A copy of the fault histograms (what a worker process reports; they add exactly).
#[derive(Debug, Clone)]
pub struct FaultHistograms {
    /// Cut (or server disconnect) to the next delivered message, µs.
    pub recovery: Histogram<u64>,
    /// In-window latency of the stalled clients, and of the others, µs (`stall-reader`).
    pub stalled_latency: Histogram<u64>,
    pub others_latency: Histogram<u64>,
}

impl Default for FaultHistograms {
    fn default() -> Self {
        FaultHistograms {
            recovery: new_histogram(),
            stalled_latency: new_histogram(),
            others_latency: new_histogram(),
        }
    }
}

impl FaultHistograms {
    /// Adds another group's histograms.
    pub fn merge(&mut self, other: &FaultHistograms) {
        let _ = self.recovery.add(&other.recovery);
        let _ = self.stalled_latency.add(&other.stalled_latency);
        let _ = self.others_latency.add(&other.others_latency);
    }
}

impl FaultStats {
    /// A client delivered its first message `us` after its connection was cut.
    pub fn record_recovery(&self, us: u64) {
        lock(&self.recovery).saturating_record(us.max(1));
    }
    /// An in-window delivery's latency, by whether its client is a stalled reader.
    pub fn record_latency(&self, stalled: bool, us: u64) {
        let h = if stalled {
            &self.stalled_latency
        } else {
            &self.others_latency
        };
        lock(h).saturating_record(us);
    }
    pub fn histograms(&self) -> FaultHistograms {
        FaultHistograms {
            recovery: lock(&self.recovery).clone(),
            stalled_latency: lock(&self.stalled_latency).clone(),
            others_latency: lock(&self.others_latency).clone(),
        }
    }
}
