//! What a coordinator and a worker say to each other, all JSON, one object per line:
//! the [`WorkerPlan`] (what to run), the [`Control`] lines on the worker's stdin (the window,
//! when to close), the [`Event`] lines on its stdout (ramped, per-quarter-second ticks, the
//! final [`WorkerReport`]), and the exact codec of histograms inside them (HdrHistogram V2,
//! deflate, base64: the same encoding as an `.hlog` line, so histograms add exactly).

use std::net::Ipv4Addr;

use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

use crate::profile::Profile;

use crate::link::{LinkCounts, LinkSpec};
use crate::stats::{Snapshot, Window, new_histogram};
use crate::technique::Technique;

/// What one worker runs: its share of one technique's clients against one server, with
/// everything it needs to measure on its own (the run's window may come here or later on
/// stdin). Self-contained, so a worker can run on another machine from this file alone.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerPlan {
    /// This worker's number (0-based) among the run's workers.
    pub index: u32,
    pub workers: u32,
    pub run_id: String,
    pub technique: Technique,
    /// `http://HOST:PORT[/PREFIX]` of the server.
    pub target: String,
    /// Topic names; index = the payload's topic index.
    pub topics: Vec<String>,
    /// This worker's clients...
    pub clients: u32,
    /// ...which are the run's clients `first_index..first_index + clients` (topics and
    /// source addresses are assigned by the run-wide index).
    pub first_index: u32,
    /// Connections per second this worker opens.
    pub ramp_up: f64,
    /// Client source addresses (empty: the OS picks).
    pub source_addrs: Vec<Ipv4Addr>,
    pub poll_interval_ms: u64,
    pub long_poll_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    pub read_timeout_ms: u64,
    pub seed: u64,
    /// The steady-state window, if fixed in advance (else a `window` control line sets it).
    #[serde(default)]
    pub window: Option<WindowSpec>,
    /// Close the clients at this wall-clock time (µs since the epoch), if fixed in advance
    /// (else at a `close` control line, or when stdin ends).
    #[serde(default)]
    pub close_at_us: Option<u64>,
    /// The run's resolved options, copied into the worker's manifest.
    #[serde(default)]
    pub params: serde_json::Value,
    /// The subscribers' emulated link, as its label: the worker starts its own emulator and
    /// connects every client through it (absent or `none`: direct).
    #[serde(default)]
    pub link: Option<LinkSpec>,
    /// How to talk to the target (absent: pushbench's own protocol).
    #[serde(default)]
    pub profile: Option<Profile>,
    /// The injected faults, by their label (`--fault`; absent: none), when the stalled
    /// readers stall (µs since the epoch), and the recovery behaviour (absent: resuming).
    #[serde(default)]
    pub fault: Option<String>,
    #[serde(default)]
    pub stall_from_us: Option<u64>,
    #[serde(default)]
    pub recovery: Option<String>,
    /// HTTP version, TLS and connection sharing (absent: HTTP/1.1 cleartext).
    #[serde(default)]
    pub transport: Option<crate::config::TransportConfig>,
}

/// The steady-state window: which messages count (by sequence number, per topic) and when the
/// time-attributed counters (requests, bytes) are snapshotted (wall clock).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowSpec {
    /// Per topic, `[first, last]` sequence numbers of the window (`null`: none).
    pub seqs: Vec<Option<[u64; 2]>>,
    /// Window start and end, wall-clock µs since the epoch (the publisher's clock).
    pub start_us: u64,
    pub end_us: u64,
}

impl WindowSpec {
    /// Messages in the window of `topic`.
    pub fn len(&self, topic: usize) -> u64 {
        match self.seqs.get(topic).copied().flatten() {
            Some([f, l]) if l >= f => l - f + 1,
            _ => 0,
        }
    }

    /// Sets `window` (of `topics` topics) to this one: a topic with none holds no message.
    pub fn apply(&self, window: &Window, topics: usize) {
        for t in 0..topics {
            let [first, last] = self.seqs.get(t).copied().flatten().unwrap_or([1, 0]);
            window.open(t, first);
            window.close(t, last);
        }
    }

    /// This window as the publisher actually marked it in `window` (a run cut short ends it
    /// early), ending at `now_us` at the latest.
    pub fn as_marked(&self, window: &Window, now_us: u64) -> WindowSpec {
        WindowSpec {
            seqs: self
                .seqs
                .iter()
                .enumerate()
                .map(|(t, r)| {
                    let len = window.len(t);
                    r.and_then(|[f, _]| (len > 0).then(|| [f, f + len - 1]))
                })
                .collect(),
            start_us: self.start_us,
            end_us: self.end_us.min(now_us),
        }
    }
}

/// A line on the worker's stdin.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Control {
    /// Sets (or, when the run is cut short, narrows) the window.
    Window(WindowSpec),
    /// Close the clients (each gets `timeout_ms` to finish) and report.
    Close { timeout_ms: u64 },
}

/// A line on the worker's stdout.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// Every client was started and connected (or the connect timeout passed).
    Ramped { spawned: u32, connected: u64 },
    /// Four times a second: the counters so far, the latencies of messages received since the
    /// last tick (every message, any window), this process's CPU seconds and RSS. The counters
    /// are boxed (they grew with the fault counters); their JSON form is the same.
    Tick {
        counts: Box<Counts>,
        interval: Option<String>,
        cpu_s: Option<f64>,
        rss_bytes: Option<u64>,
    },
    /// The final result; the worker exits after it.
    Result(Box<WorkerReport>),
}

/// The counters of a [`Snapshot`], as they travel between a worker and the coordinator.
pub type Counts = Snapshot;

/// One worker's raw results of one technique: counters and histograms, which add exactly.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerReport {
    pub index: u32,
    pub technique: Technique,
    pub clients: u64,
    /// Messages in the window (all topics; the same for every worker of a run).
    pub published: u64,
    /// Deliveries this worker's clients should have had: Σ topics window × its subscribers.
    pub expected: u64,
    /// Counters over the window (requests and bytes by time; deliveries by message).
    pub window: Counts,
    /// Counters over the whole phase (first connect to last close).
    pub phase: Counts,
    /// Histograms, [`encode`]d: steady-state latency (µs), connect times and first-message
    /// times (µs).
    pub latency: String,
    pub connect: String,
    pub first_message: String,
    pub clients_not_closed: u64,
    /// This process's CPU seconds during the window and its highest RSS seen.
    pub loadgen_cpu_s: Option<f64>,
    pub loadgen_rss_bytes: Option<u64>,
    /// Window start, wall-clock µs (as measured: the later of the planned start and the
    /// moment the window was known).
    pub window_start_us: u64,
    pub window_end_us: u64,
    pub failure: Option<String>,
    /// What the worker's subscriber link carried over the phase (absent: no link).
    #[serde(default)]
    pub link: Option<LinkCounts>,
    /// CPU seconds of the worker's link emulator threads over the phase.
    #[serde(default)]
    pub link_cpu_s: Option<f64>,
    /// The fault histograms, [`encode`]d (absent: no faults, or an older worker).
    #[serde(default)]
    pub recovery: Option<String>,
    #[serde(default)]
    pub stalled_latency: Option<String>,
    #[serde(default)]
    pub others_latency: Option<String>,
}

/// A histogram that could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CodecError(pub String);

/// Encodes a histogram exactly: V2 deflate serialization, base64.
pub fn encode(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    if V2DeflateSerializer::new().serialize(h, &mut buf).is_err() {
        buf.clear();
        let _ = V2DeflateSerializer::new().serialize(&new_histogram(), &mut buf);
    }
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// Decodes what [`encode`] (or an `.hlog` interval line) holds.
pub fn decode(text: &str) -> Result<Histogram<u64>, CodecError> {
    // Lengths its header claims are checked before anything is allocated for them.
    let h = contract::run_dir::hlog::decode_base64(text).map_err(|e| CodecError(e.to_string()))?;
    // Re-home into the standard bounds so it adds to any other histogram of ours.
    let mut out = new_histogram();
    out.add(&h).map_err(|e| CodecError(e.to_string()))?;
    Ok(out)
}

/// [`decode`] of a histogram a report may lack (absent: empty).
pub fn decode_opt(text: &Option<String>) -> Result<Histogram<u64>, CodecError> {
    match text {
        Some(t) => decode(t),
        None => Ok(new_histogram()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_round_trip_exactly() {
        let mut h = new_histogram();
        for v in [1, 7, 250, 1_000, 99_999, 3_000_000] {
            h.record_n(v, v % 5 + 1).unwrap();
        }
        let back = decode(&encode(&h)).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.len(), h.len());
        assert!(decode("not base64!").is_err());
    }

    #[test]
    fn control_and_events_are_one_json_line() {
        let c = Control::Close { timeout_ms: 5 };
        let line = serde_json::to_string(&c).unwrap();
        assert_eq!(line, r#"{"close":{"timeout_ms":5}}"#);
        let w = WindowSpec {
            seqs: vec![Some([3, 5]), None],
            start_us: 1,
            end_us: 2,
        };
        assert_eq!((w.len(0), w.len(1), w.len(7)), (3, 0, 0));
        // Applied to a recorder's window, then read back as the publisher marked it.
        let rec = crate::stats::Recorder::new(crate::technique::Technique::Ws, 2);
        w.apply(&rec.window, 2);
        assert_eq!((rec.window.len(0), rec.window.len(1)), (3, 0));
        assert_eq!(w.as_marked(&rec.window, 9), w);
        rec.window.close(0, 4);
        let cut = w.as_marked(&rec.window, 1);
        assert_eq!((cut.seqs[0], cut.end_us), (Some([3, 4]), 1));
        let back: Control =
            serde_json::from_str(&serde_json::to_string(&Control::Window(w.clone())).unwrap())
                .unwrap();
        assert!(matches!(back, Control::Window(x) if x == w));
    }
}
