//! Per-technique measurements, shared by every simulated client of one technique.
//!
//! Clients report what they see (a payload received, a request sent, an error) to one
//! [`Recorder`] per technique. Byte counters are fed by the counting socket wrapper. Raw
//! counters are monotonic totals; the run loop snapshots them at phase boundaries and diffs.
//! Deliveries are attributed to the steady-state window by the *message's* sequence number
//! (the [`Window`] the publisher sets), not by when it arrived, so a message published in the
//! window and received during drain still counts, and nothing from warm-up leaks in.

mod faults;
mod sequence;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use hdrhistogram::Histogram;

use crate::payload;
use crate::technique::Technique;
pub use faults::{FaultHistograms, FaultStats};
pub use sequence::{Seen, SeqTracker, Window};

/// Largest latency a histogram holds (µs): one hour. Larger values are clamped.
pub const MAX_LATENCY_US: u64 = 3_600_000_000;

/// A new latency histogram: µs, 3 significant figures.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds")
}

/// Kinds of client errors, counted (never logged one by one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// TCP connect failed or timed out.
    Connect,
    /// A read, handshake or answer timed out.
    Timeout,
    /// An unexpected HTTP status.
    HttpStatus,
    /// Bytes that do not follow docs/PROTOCOL.md (or a payload without our header).
    Protocol,
    /// The server closed a connection that should have stayed open.
    Closed,
    /// Any other socket error.
    Io,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 6] = [
        ErrorKind::Connect,
        ErrorKind::Timeout,
        ErrorKind::HttpStatus,
        ErrorKind::Protocol,
        ErrorKind::Closed,
        ErrorKind::Io,
    ];
    /// The snake_case name used in `errors` maps.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::HttpStatus => "http_status",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Closed => "closed",
            ErrorKind::Io => "io",
        }
    }
    fn index(self) -> usize {
        self as usize
    }
}

/// Monotonic counters of one technique (all clients).
#[derive(Debug, Default)]
pub struct Counters {
    /// Distinct in-window messages received.
    pub delivered: AtomicU64,
    /// In-window messages received again.
    pub duplicates: AtomicU64,
    /// In-window messages received after a later one.
    pub out_of_order: AtomicU64,
    /// Every payload received, in any phase.
    pub received_total: AtomicU64,
    pub requests: AtomicU64,
    pub empty_responses: AtomicU64,
    pub reconnects: AtomicU64,
    /// Written by the clients (fed by the counting socket).
    pub bytes_up: AtomicU64,
    /// Read by the clients (fed by the counting socket).
    pub bytes_down: AtomicU64,
    /// Open client connections (a gauge, not a counter).
    pub connections: AtomicU64,
    errors: [AtomicU64; 6],
    /// Connections the fault injector reset (`drop`), and closed for idleness (`idle-cut`).
    pub cuts: AtomicU64,
    pub idle_cuts: AtomicU64,
    /// Gap notices received from the server.
    pub gaps: AtomicU64,
    /// Clients that are stalled readers (`stall-reader`), and the in-window messages they
    /// lost (each adds its own when it ends).
    pub stalled_clients: AtomicU64,
    pub stalled_lost: AtomicU64,
}

/// A plain copy of the counters at one moment (also what a worker process reports).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    pub delivered: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub received_total: u64,
    pub requests: u64,
    pub empty_responses: u64,
    pub reconnects: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub connections: u64,
    pub errors: [u64; 6],
    #[serde(default)]
    pub cuts: u64,
    #[serde(default)]
    pub idle_cuts: u64,
    #[serde(default)]
    pub gaps: u64,
    #[serde(default)]
    pub stalled_clients: u64,
    #[serde(default)]
    pub stalled_lost: u64,
}

impl Snapshot {
    /// Counts accumulated between `earlier` and `self` (the gauge keeps `self`'s value).
    pub fn since(&self, earlier: &Snapshot) -> Snapshot {
        let d = |a: u64, b: u64| a.saturating_sub(b);
        let mut errors = [0; 6];
        for (i, e) in errors.iter_mut().enumerate() {
            *e = d(self.errors[i], earlier.errors[i]);
        }
        Snapshot {
            delivered: d(self.delivered, earlier.delivered),
            duplicates: d(self.duplicates, earlier.duplicates),
            out_of_order: d(self.out_of_order, earlier.out_of_order),
            received_total: d(self.received_total, earlier.received_total),
            requests: d(self.requests, earlier.requests),
            empty_responses: d(self.empty_responses, earlier.empty_responses),
            reconnects: d(self.reconnects, earlier.reconnects),
            bytes_up: d(self.bytes_up, earlier.bytes_up),
            bytes_down: d(self.bytes_down, earlier.bytes_down),
            connections: self.connections,
            errors,
            cuts: d(self.cuts, earlier.cuts),
            idle_cuts: d(self.idle_cuts, earlier.idle_cuts),
            gaps: d(self.gaps, earlier.gaps),
            // Gauges of the whole phase: kept.
            stalled_clients: self.stalled_clients,
            stalled_lost: d(self.stalled_lost, earlier.stalled_lost),
        }
    }
    /// Errors as `(kind name, count)`, only the non-zero ones.
    pub fn error_map(&self) -> std::collections::BTreeMap<String, u64> {
        ErrorKind::ALL
            .iter()
            .filter(|k| self.errors[k.index()] > 0)
            .map(|k| (k.name().to_string(), self.errors[k.index()]))
            .collect()
    }
}

/// What a received payload was to the steady-state window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Not a message of the window (warm-up, drain, or not ours); `fresh`: received for the
    /// first time (not a replay).
    Outside { fresh: bool },
    /// A window message received for the first time, with its latency (µs).
    New(u64),
    /// A window message received again.
    Duplicate,
}

/// Everything measured for one technique.
#[derive(Debug)]
pub struct Recorder {
    pub technique: Technique,
    pub window: Window,
    pub counters: Counters,
    latency: Mutex<Histogram<u64>>,
    interval: Mutex<Histogram<u64>>,
    connect: Mutex<Histogram<u64>>,
    first_message: Mutex<Histogram<u64>>,
    pub faults: FaultStats,
}

impl Recorder {
    pub fn new(technique: Technique, topics: usize) -> Self {
        Recorder {
            technique,
            window: Window::new(topics.max(1)),
            counters: Counters::default(),
            latency: Mutex::new(new_histogram()),
            interval: Mutex::new(new_histogram()),
            connect: Mutex::new(new_histogram()),
            first_message: Mutex::new(new_histogram()),
            faults: FaultStats::default(),
        }
    }

    /// A subscriber received `payload` at `received_us` (µs since the epoch, taken when the
    /// whole message had been parsed). Checks sequence and records latency.
    /// Returns what the payload was to the window ([`Delivery`]).
    pub fn on_payload(
        &self,
        tracker: &mut SeqTracker,
        payload: &str,
        received_us: u64,
    ) -> Delivery {
        let h = match payload::decode(payload) {
            Ok(h) => h,
            Err(_) => {
                self.error(ErrorKind::Protocol);
                return Delivery::Outside { fresh: false };
            }
        };
        let c = &self.counters;
        c.received_total.fetch_add(1, Relaxed);
        let latency = received_us.saturating_sub(h.scheduled_us);
        lock(&self.interval).saturating_record(latency);
        let seen = tracker.observe(h.seq);
        if !self.window.contains(h.topic as usize, h.seq) {
            return Delivery::Outside {
                fresh: seen != Seen::Duplicate,
            };
        }
        match seen {
            Seen::New | Seen::Late => {
                c.delivered.fetch_add(1, Relaxed);
                if seen == Seen::Late {
                    c.out_of_order.fetch_add(1, Relaxed);
                }
                lock(&self.latency).saturating_record(latency);
                Delivery::New(latency)
            }
            Seen::Duplicate => {
                c.duplicates.fetch_add(1, Relaxed);
                Delivery::Duplicate
            }
        }
    }

    /// A latency for the per-second series alone (request mode's lateness, which has its own
    /// histograms).
    pub fn record_interval(&self, us: u64) {
        lock(&self.interval).saturating_record(us);
    }

    pub fn error(&self, kind: ErrorKind) {
        self.counters.errors[kind.index()].fetch_add(1, Relaxed);
    }
    pub fn request(&self) {
        self.counters.requests.fetch_add(1, Relaxed);
    }
    pub fn empty_response(&self) {
        self.counters.empty_responses.fetch_add(1, Relaxed);
    }
    /// The server announced a gap (messages the client asked for are gone).
    pub fn gap(&self) {
        self.counters.gaps.fetch_add(1, Relaxed);
    }
    pub fn reconnect(&self) {
        self.counters.reconnects.fetch_add(1, Relaxed);
    }
    /// A connection opened (`true`) or closed (`false`).
    pub fn connection(&self, open: bool) {
        if open {
            self.counters.connections.fetch_add(1, Relaxed);
        } else {
            self.counters.connections.fetch_sub(1, Relaxed);
        }
    }
    /// Time from connect start to the first byte of the answer.
    pub fn record_connect(&self, us: u64) {
        lock(&self.connect).saturating_record(us);
    }
    /// Time from connect start to the first message.
    pub fn record_first_message(&self, us: u64) {
        lock(&self.first_message).saturating_record(us);
    }

    pub fn snapshot(&self) -> Snapshot {
        let c = &self.counters;
        let mut errors = [0; 6];
        for (i, e) in errors.iter_mut().enumerate() {
            *e = c.errors[i].load(Relaxed);
        }
        Snapshot {
            delivered: c.delivered.load(Relaxed),
            duplicates: c.duplicates.load(Relaxed),
            out_of_order: c.out_of_order.load(Relaxed),
            received_total: c.received_total.load(Relaxed),
            requests: c.requests.load(Relaxed),
            empty_responses: c.empty_responses.load(Relaxed),
            reconnects: c.reconnects.load(Relaxed),
            bytes_up: c.bytes_up.load(Relaxed),
            bytes_down: c.bytes_down.load(Relaxed),
            connections: c.connections.load(Relaxed),
            errors,
            cuts: c.cuts.load(Relaxed),
            idle_cuts: c.idle_cuts.load(Relaxed),
            gaps: c.gaps.load(Relaxed),
            stalled_clients: c.stalled_clients.load(Relaxed),
            stalled_lost: c.stalled_lost.load(Relaxed),
        }
    }

    /// The steady-state latency histogram so far.
    pub fn latency(&self) -> Histogram<u64> {
        lock(&self.latency).clone()
    }
    /// Latencies of every message received since the last call (for per-second series).
    pub fn take_interval(&self) -> Histogram<u64> {
        let mut h = lock(&self.interval);
        let out = h.clone();
        h.reset();
        out
    }
    pub fn connect_times(&self) -> Histogram<u64> {
        lock(&self.connect).clone()
    }
    pub fn first_message_times(&self) -> Histogram<u64> {
        lock(&self.first_message).clone()
    }
}

/// Locks a histogram, recovering it if a panicking thread poisoned the lock.
pub(crate) fn lock(m: &Mutex<Histogram<u64>>) -> std::sync::MutexGuard<'_, Histogram<u64>> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_gates_deliveries() {
        let r = Recorder::new(Technique::Sse, 1);
        let mut t = SeqTracker::default();
        let p = |seq| {
            payload::encode(
                payload::Header {
                    topic: 0,
                    seq,
                    scheduled_us: 1_000,
                },
                64,
            )
        };
        r.on_payload(&mut t, &p(1), 2_000); // before the window
        r.window.open(0, 2);
        r.on_payload(&mut t, &p(2), 2_500);
        r.on_payload(&mut t, &p(2), 2_600);
        r.window.close(0, 3);
        r.on_payload(&mut t, &p(3), 3_000);
        r.on_payload(&mut t, &p(4), 3_000); // after the window
        let s = r.snapshot();
        assert_eq!((s.delivered, s.duplicates, s.received_total), (2, 1, 5));
        assert_eq!(r.window.len(0), 2);
        let h = r.latency();
        assert_eq!(h.len(), 2);
        assert_eq!(h.max(), 2_000);
        r.on_payload(&mut t, "garbage", 0);
        assert_eq!(r.snapshot().error_map().get("protocol"), Some(&1));
    }
}
