//! The run directory's contents as typed values (docs/RUN_FORMAT.md, format version 1), and the
//! per-message figures every output derives from them, defined once here so the CSV, the charts,
//! the findings and the claims table can never disagree.
//!
//! Every field the format marks as possibly unknown is an `Option`; so is every field this
//! crate could live without, so an older or leaner writer still produces a report (with "n/a"
//! where a figure is missing) instead of an error. Unknown keys are ignored.

use std::collections::BTreeMap;
use std::path::PathBuf;

use hdrhistogram::Histogram;
use serde::Deserialize;

/// Reads `null` as the type's default (the format writes `null` for "none" in places where an
/// empty value would do as well).
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The format version this crate reads.
pub const FORMAT_VERSION: u64 = 1;

/// One loaded run directory.
#[derive(Debug, Clone)]
pub struct Run {
    /// Where it was read from.
    pub dir: PathBuf,
    /// A short name for comparison mode (the directory's name, made unique).
    pub label: String,
    pub manifest: Manifest,
    /// One entry per technique, in run order.
    pub techniques: Vec<TechniqueSummary>,
    /// One row per second per technique.
    pub timeseries: Vec<TimePoint>,
    /// Publish-to-receive latency (µs) per technique name, from `histograms/*.hlog`.
    pub histograms: BTreeMap<String, Histogram<u64>>,
}

impl Run {
    /// Whether the run was cut short.
    pub fn partial(&self) -> bool {
        self.manifest.partial
    }
    /// The summary of one technique, if it ran.
    pub fn technique(&self, name: &str) -> Option<&TechniqueSummary> {
        self.techniques.iter().find(|t| t.technique == name)
    }
}

/// `manifest.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u64,
    #[serde(default)]
    pub partial: bool,
    #[serde(default)]
    pub failure: Option<String>,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub ended_at: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub command_line: Vec<String>,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub server_processes: Option<u64>,
    #[serde(default)]
    pub loadgen_processes: Option<u64>,
    #[serde(default)]
    pub clock: Option<String>,
    /// Every run parameter, shown as given (kept generic so new parameters show up unasked).
    #[serde(default, deserialize_with = "null_default")]
    pub params: serde_json::Map<String, serde_json::Value>,
    #[serde(default, deserialize_with = "null_default")]
    pub machine: Machine,
    #[serde(default, deserialize_with = "null_default")]
    pub versions: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub build_profile: Option<String>,
    #[serde(default)]
    pub git_revision: Option<String>,
}

impl Manifest {
    /// A numeric run parameter (`params.<key>`), if present.
    pub fn param_f64(&self, key: &str) -> Option<f64> {
        self.params.get(key).and_then(serde_json::Value::as_f64)
    }
}

/// `manifest.json` → `machine`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Machine {
    pub hostname: Option<String>,
    pub cpu_model: Option<String>,
    pub cores: Option<u64>,
    pub memory_bytes: Option<u64>,
    pub kernel: Option<String>,
    pub os: Option<String>,
}

/// `latency_us` of one technique (µs).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Latency {
    pub count: Option<u64>,
    pub min: Option<f64>,
    pub mean: Option<f64>,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub p999: Option<f64>,
    pub max: Option<f64>,
}

/// `connect_ms` / `first_message_ms` of one technique (ms).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Quantiles {
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
}

/// One entry of `summary.json` → `techniques`. Counts cover the steady-state window.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TechniqueSummary {
    pub technique: String,
    pub clients: Option<u64>,
    pub topics: Option<u64>,
    pub payload_bytes: Option<u64>,
    pub duration_s: Option<f64>,
    pub published: Option<u64>,
    pub expected: Option<u64>,
    pub delivered: Option<u64>,
    pub lost: Option<u64>,
    pub duplicates: Option<u64>,
    pub out_of_order: Option<u64>,
    pub requests: Option<u64>,
    pub empty_responses: Option<u64>,
    pub reconnects: Option<u64>,
    pub bytes_up: Option<u64>,
    pub bytes_down: Option<u64>,
    pub server_bytes_up: Option<u64>,
    pub server_bytes_down: Option<u64>,
    pub server_requests: Option<u64>,
    /// Publishes that failed (of all the publisher's publishes, not only the window's).
    pub publish_failures: Option<u64>,
    #[serde(default, deserialize_with = "null_default")]
    pub latency_us: Latency,
    #[serde(default, deserialize_with = "null_default")]
    pub connect_ms: Quantiles,
    #[serde(default, deserialize_with = "null_default")]
    pub first_message_ms: Quantiles,
    pub server_cpu_s: Option<f64>,
    pub server_rss_bytes: Option<u64>,
    pub server_rss_idle_bytes: Option<u64>,
    pub loadgen_cpu_s: Option<f64>,
    pub loadgen_rss_bytes: Option<u64>,
    #[serde(default, deserialize_with = "null_default")]
    pub errors: BTreeMap<String, u64>,
    #[serde(default)]
    pub failure: Option<String>,
}

/// `a / b` when both are known and `b > 0`.
fn ratio(a: Option<f64>, b: Option<u64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0 => Some(a / b as f64),
        _ => None,
    }
}

impl TechniqueSummary {
    /// Errors of every kind.
    pub fn errors_total(&self) -> u64 {
        self.errors.values().sum()
    }
    /// `delivered / expected`.
    pub fn delivered_ratio(&self) -> Option<f64> {
        ratio(self.delivered.map(|d| d as f64), self.expected)
    }
    /// HTTP requests per delivered message.
    pub fn requests_per_msg(&self) -> Option<f64> {
        ratio(self.requests.map(|r| r as f64), self.delivered)
    }
    /// Share of requests answered with nothing (0..1).
    pub fn empty_share(&self) -> Option<f64> {
        ratio(self.empty_responses.map(|r| r as f64), self.requests)
    }
    /// Client-counted bytes written per delivered message.
    pub fn bytes_up_per_msg(&self) -> Option<f64> {
        ratio(self.bytes_up.map(|r| r as f64), self.delivered)
    }
    /// Client-counted bytes read per delivered message.
    pub fn bytes_down_per_msg(&self) -> Option<f64> {
        ratio(self.bytes_down.map(|r| r as f64), self.delivered)
    }
    /// Client-counted bytes, both directions, per delivered message.
    pub fn bytes_per_msg(&self) -> Option<f64> {
        Some(self.bytes_up_per_msg()? + self.bytes_down_per_msg()?)
    }
    /// Bytes on the wire per delivered message beyond the payload itself (both directions).
    pub fn overhead_per_msg(&self) -> Option<f64> {
        Some(self.bytes_per_msg()? - self.payload_bytes? as f64)
    }
    /// Server CPU milliseconds per 1,000 delivered messages.
    pub fn cpu_ms_per_1k_msgs(&self) -> Option<f64> {
        ratio(self.server_cpu_s.map(|s| s * 1e6), self.delivered)
    }
    /// Server memory per client connection: (peak RSS − idle RSS) / clients, in bytes.
    pub fn rss_per_conn(&self) -> Option<f64> {
        let grown = self
            .server_rss_bytes?
            .saturating_sub(self.server_rss_idle_bytes?);
        ratio(Some(grown as f64), self.clients)
    }
    /// Delivered messages per second of the steady-state window.
    pub fn delivered_per_s(&self) -> Option<f64> {
        match (self.delivered, self.duration_s) {
            (Some(d), Some(s)) if s > 0.0 => Some(d as f64 / s),
            _ => None,
        }
    }
}

/// One row of `timeseries.csv`.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq)]
pub struct TimePoint {
    pub t_s: f64,
    pub technique: String,
    #[serde(default)]
    pub phase: Option<String>,
    #[serde(default)]
    pub connections: Option<f64>,
    #[serde(default)]
    pub delivered_per_s: Option<f64>,
    #[serde(default)]
    pub latency_p99_us: Option<f64>,
    #[serde(default)]
    pub bytes_down_per_s: Option<f64>,
    #[serde(default)]
    pub bytes_up_per_s: Option<f64>,
    #[serde(default)]
    pub requests_per_s: Option<f64>,
    #[serde(default)]
    pub server_cpu_s: Option<f64>,
    #[serde(default)]
    pub server_rss_bytes: Option<f64>,
    #[serde(default)]
    pub loadgen_cpu_s: Option<f64>,
}
