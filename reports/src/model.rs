//! One run directory as loaded ([`Run`]: its files as the format's types,
//! [`contract::run_dir`]), and the per-message figures every output derives from a technique's
//! summary ([`Figures`]), defined once here so the CSV, the charts, the findings and the claims
//! table can never disagree.
//!
//! The format's types read leniently: every figure an older or leaner writer may lack is an
//! `Option`, so such a run still produces a report (with "n/a" where a figure is missing)
//! instead of an error. Unknown keys are ignored.

use std::collections::BTreeMap;
use std::path::PathBuf;

use hdrhistogram::Histogram;

pub use contract::run_dir::{
    FORMAT_VERSION, LatencyUs, Machine, Manifest, Millis, TechniqueSummary, TimeseriesRow,
};

/// One loaded run directory.
#[derive(Debug, Clone)]
pub struct Run {
    /// Where it was read from.
    pub dir: PathBuf,
    /// A short name for comparison mode (the directory's name, made unique).
    pub label: String,
    pub manifest: Manifest,
    /// One entry per technique measured, in run order.
    pub techniques: Vec<TechniqueSummary>,
    /// The techniques not measured (`skipped`, e.g. not offered by the target), no figures.
    pub skipped: Vec<TechniqueSummary>,
    /// One row per second per technique.
    pub timeseries: Vec<TimeseriesRow>,
    /// Publish-to-receive latency (µs) per technique name, from `histograms/*.hlog` (in a
    /// request run: each event's lateness, received minus due).
    pub histograms: BTreeMap<String, Histogram<u64>>,
    /// Request mode: the other histograms of a technique, keyed `<technique>.<metric>` with
    /// metric one of [`REQUEST_METRICS`] (`histograms/sse.ttft.hlog` → `sse.ttft`). Each is
    /// optional: one the run did not write is simply absent.
    pub request_histograms: BTreeMap<String, Histogram<u64>>,
}

#[cfg(test)]
impl Run {
    /// A run named `x` of these techniques' summaries (summary.json's `techniques`), with a
    /// bare manifest and nothing else: for unit tests of what is computed from summaries.
    pub fn for_test(techniques: serde_json::Value) -> Run {
        let manifest: Manifest = serde_json::from_value(
            serde_json::json!({"format": "pushbench-run", "format_version": 1}),
        )
        .unwrap();
        Run {
            dir: "x".into(),
            label: "x".into(),
            manifest,
            techniques: serde_json::from_value(techniques).unwrap(),
            skipped: Vec::new(),
            timeseries: Vec::new(),
            histograms: Default::default(),
            request_histograms: Default::default(),
        }
    }
}

/// The request-mode histograms a technique may have beside its latency one: time to first
/// event, inter-event gap and end-to-end time, µs.
pub const REQUEST_METRICS: [&str; 3] = ["ttft", "itl", "e2e"];

impl Run {
    /// Whether the run was cut short.
    pub fn partial(&self) -> bool {
        self.manifest.partial
    }
    /// A request-mode histogram of a technique (`metric`: one of [`REQUEST_METRICS`]).
    pub fn request_histogram(&self, technique: &str, metric: &str) -> Option<&Histogram<u64>> {
        self.request_histograms
            .get(&format!("{technique}.{metric}"))
    }
    /// Whether any technique of the run was measured in request mode (`request` not null).
    pub fn is_request(&self) -> bool {
        self.techniques.iter().any(|t| t.request.is_some())
    }
    /// The summary of one technique, if it ran.
    pub fn technique(&self, name: &str) -> Option<&TechniqueSummary> {
        self.techniques.iter().find(|t| t.technique.name() == name)
    }
}

/// `a / b` when both are known and `b > 0`.
fn ratio(a: Option<f64>, b: Option<u64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0 => Some(a / b as f64),
        _ => None,
    }
}

/// The per-message figures of a technique's summary: what the charts, the findings and the
/// CSV show. `None` when a figure it needs is unknown (or a divisor is 0).
pub trait Figures {
    /// `delivered / expected`.
    fn delivered_ratio(&self) -> Option<f64>;
    /// HTTP requests per delivered message.
    fn requests_per_msg(&self) -> Option<f64>;
    /// Share of requests answered with nothing (0..1).
    fn empty_share(&self) -> Option<f64>;
    /// Client-counted bytes written per delivered message.
    fn bytes_up_per_msg(&self) -> Option<f64>;
    /// Client-counted bytes read per delivered message.
    fn bytes_down_per_msg(&self) -> Option<f64>;
    /// Client-counted bytes, both directions, per delivered message.
    fn bytes_per_msg(&self) -> Option<f64>;
    /// Bytes on the wire per delivered message beyond the payload itself (both directions).
    fn overhead_per_msg(&self) -> Option<f64>;
    /// Server CPU milliseconds per 1,000 delivered messages.
    fn cpu_ms_per_1k_msgs(&self) -> Option<f64>;
    /// Server memory per client connection: (peak RSS − idle RSS) / clients, in bytes.
    fn rss_per_conn(&self) -> Option<f64>;
    /// Delivered messages per second of the steady-state window.
    fn delivered_per_s(&self) -> Option<f64>;
}

impl Figures for TechniqueSummary {
    fn delivered_ratio(&self) -> Option<f64> {
        ratio(self.delivered.map(|d| d as f64), self.expected)
    }
    fn requests_per_msg(&self) -> Option<f64> {
        ratio(self.requests.map(|r| r as f64), self.delivered)
    }
    fn empty_share(&self) -> Option<f64> {
        ratio(self.empty_responses.map(|r| r as f64), self.requests)
    }
    fn bytes_up_per_msg(&self) -> Option<f64> {
        ratio(self.bytes_up.map(|r| r as f64), self.delivered)
    }
    fn bytes_down_per_msg(&self) -> Option<f64> {
        ratio(self.bytes_down.map(|r| r as f64), self.delivered)
    }
    fn bytes_per_msg(&self) -> Option<f64> {
        Some(self.bytes_up_per_msg()? + self.bytes_down_per_msg()?)
    }
    fn overhead_per_msg(&self) -> Option<f64> {
        Some(self.bytes_per_msg()? - self.payload_bytes? as f64)
    }
    fn cpu_ms_per_1k_msgs(&self) -> Option<f64> {
        ratio(self.server_cpu_s.map(|s| s * 1e6), self.delivered)
    }
    fn rss_per_conn(&self) -> Option<f64> {
        let grown = self
            .server_rss_bytes?
            .saturating_sub(self.server_rss_idle_bytes?);
        ratio(Some(grown as f64), self.clients)
    }
    fn delivered_per_s(&self) -> Option<f64> {
        match (self.delivered, self.duration_s) {
            (Some(d), Some(s)) if s > 0.0 => Some(d as f64 / s),
            _ => None,
        }
    }
}
