//! What a request-scoped run (`pushbench run --mode request`, docs/REQUEST.md) measured of one
//! technique, as summary.json records it in `request`: [`RequestSummary`]. `null` in a
//! broadcast run (or one written before request mode existed).
//!
//! In request mode each client request asks the server for a stream of events
//! (`POST /generate/...`, docs/PROTOCOL.md); the technique's usual figures keep their meaning
//! with events in place of messages: `expected` (events asked for by the requests that started
//! in the window), `delivered`, `lost`, `duplicates`, `out_of_order`, `requests` (HTTP requests
//! and WebSocket handshakes), `clients` (the concurrency, or the most streams open at once in
//! the open model), `payload_bytes` (the size of an event's payload), and `latency_us`, which is
//! each event's lateness (received minus the time the server's schedule made it due), so
//! `--check`, `compare` and the reports read it as they read publish-to-receive latency.

use serde::{Deserialize, Serialize};

use super::lenient::null_default;
use super::summary::{LatencyUs, TechniqueSummary};

/// The request-scoped figures of one technique. Read leniently: a key an older or leaner
/// writer lacks reads as unknown (`None`, or an empty [`LatencyUs`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RequestSummary {
    /// `closed` (a fixed number of streams, each client asking again as its stream ends) or
    /// `open` (requests arriving at a Poisson rate, whatever is in flight).
    pub model: String,
    /// Closed model: the streams kept open at once.
    pub concurrency: Option<u64>,
    /// Open model: requests per second.
    pub arrival_rate: Option<f64>,
    /// What each request asked for.
    pub events_per_request: Option<u64>,
    pub event_bytes: Option<u64>,
    pub first_delay_ms: Option<f64>,
    pub interval_ms: Option<f64>,
    /// `fixed` or `exponential`.
    pub distribution: Option<String>,
    /// Requests started in the window, those whose stream ended complete, and those that
    /// failed (an error, a cut stream, a missing end marker).
    pub requests_started: Option<u64>,
    pub requests_completed: Option<u64>,
    pub requests_failed: Option<u64>,
    /// Request sent to first event received.
    #[serde(deserialize_with = "null_default")]
    pub ttft_us: LatencyUs,
    /// Gap between consecutive events of one stream.
    #[serde(deserialize_with = "null_default")]
    pub itl_us: LatencyUs,
    /// Event received minus the time it was due (the same histogram as `latency_us`).
    #[serde(deserialize_with = "null_default")]
    pub lateness_us: LatencyUs,
    /// Request sent to the stream's end (complete streams only).
    #[serde(deserialize_with = "null_default")]
    pub e2e_us: LatencyUs,
    /// Events received per second of the window, and requests completed per second.
    pub events_per_s: Option<f64>,
    pub requests_per_s: Option<f64>,
    /// Server CPU seconds per million events delivered; `null` without a server process.
    pub server_cpu_s_per_1m_events: Option<f64>,
    /// Server memory per open stream: (RSS under load - idle RSS) / mean open streams.
    pub server_rss_per_stream_bytes: Option<u64>,
    /// The mean and the most streams open at once in the window.
    pub open_streams_mean: Option<f64>,
    pub open_streams_max: Option<u64>,
}

impl TechniqueSummary {
    /// Request mode: time to first event (the top-level `ttft_us`, else `request.ttft_us`);
    /// `None` in a broadcast run.
    pub fn request_ttft(&self) -> Option<&LatencyUs> {
        self.ttft_us
            .as_ref()
            .or_else(|| self.request.as_ref().map(|r| &r.ttft_us))
    }

    /// Request mode: gap between consecutive events (`itl_us`, else `request.itl_us`).
    pub fn request_itl(&self) -> Option<&LatencyUs> {
        self.itl_us
            .as_ref()
            .or_else(|| self.request.as_ref().map(|r| &r.itl_us))
    }
}

/// A figure of a technique's `request` (`None` in a broadcast run).
pub(super) fn req<T>(s: &TechniqueSummary, f: impl Fn(&RequestSummary) -> Option<T>) -> Option<T> {
    s.request.as_ref().and_then(f)
}
