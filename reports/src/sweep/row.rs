//! A row of sweep.csv (and of `steps` in sweep.json): one technique at one step, and the
//! CSV's column names in order.

use serde::{Deserialize, Serialize};

/// One technique at one client count: a row of sweep.csv (column names are these field
/// names; empty cell = unknown).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRow {
    pub technique: String,
    pub clients: u64,
    /// p99 latency, µs (empty when nothing was delivered).
    pub p99_us: Option<u64>,
    pub p50_us: Option<u64>,
    pub lost: u64,
    pub errors: u64,
    pub expected: u64,
    pub delivered: u64,
    pub delivered_per_s: f64,
    pub server_cpu_s: Option<f64>,
    /// Server CPU seconds per second of the window (cores busy).
    pub server_cores: Option<f64>,
    pub server_rss_bytes: Option<u64>,
    pub requests: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub duration_s: f64,
    /// Messages per second per topic (each client receives this many).
    pub rate: f64,
    pub payload_bytes: u64,
    pub loadgen_cpu_s: Option<f64>,
    /// Sockets in TIME_WAIT on this machine just before the step started.
    pub time_wait_before: Option<u64>,
    pub slo_met: bool,
    /// Why the step missed the objective (empty when it met it).
    pub broke_reason: Option<String>,
    /// The step's run directory, relative to the sweep directory.
    pub run_dir: String,
    /// The emulated link the step's subscribers were on (`--link` label, `none` when they
    /// connected straight to the server; docs/NETWORK.md). Absent in sweeps written before
    /// links existed, which read as `none`.
    #[serde(default = "no_link")]
    pub link: String,
    /// That link's round-trip time, µs (0 for `none`).
    #[serde(default)]
    pub link_rtt_us: u64,
    /// A request sweep's step (`--mode request`; `clients` is then its concurrency, and the
    /// p99/p50 above are of lateness, received − due): time to first event and gap between
    /// events, µs, and events received per second. Empty in a broadcast sweep.
    #[serde(default)]
    pub ttft_p50_us: Option<u64>,
    #[serde(default)]
    pub ttft_p99_us: Option<u64>,
    #[serde(default)]
    pub itl_p50_us: Option<u64>,
    #[serde(default)]
    pub itl_p99_us: Option<u64>,
    #[serde(default)]
    pub events_per_s: Option<f64>,
    /// Server instances the step ran (`--server-processes`; in an instance sweep,
    /// `sweep --instances`, the step's count). 1 in sweeps written before it existed.
    #[serde(default = "one")]
    pub instances: u64,
    /// The broker the instances shared (`redis`, `nats`), empty/null without `--broker`.
    #[serde(default)]
    pub broker: Option<String>,
    /// The broker process's CPU seconds in the step's window (not part of `server_cpu_s`).
    #[serde(default)]
    pub broker_cpu_s: Option<f64>,
    /// `broker_cpu_s` per million messages delivered to the clients.
    #[serde(default)]
    pub broker_cpu_s_per_million_deliveries: Option<f64>,
    /// Messages into and out of the broker per second in the window.
    #[serde(default)]
    pub broker_messages_per_s: Option<f64>,
    /// The broker process's peak resident memory in the window (bytes).
    #[serde(default)]
    pub broker_rss_peak_bytes: Option<u64>,
}

fn one() -> u64 {
    1
}

impl StepRow {
    /// Server CPU seconds per million messages delivered (None when either is unknown or
    /// nothing was delivered).
    pub fn server_cpu_s_per_million(&self) -> Option<f64> {
        let cpu = self.server_cpu_s?;
        (self.delivered > 0).then(|| cpu / self.delivered as f64 * 1e6)
    }
}

fn no_link() -> String {
    "none".into()
}

/// The columns of sweep.csv, in order.
pub const STEP_COLUMNS: [&str; 36] = [
    "technique",
    "clients",
    "p99_us",
    "p50_us",
    "lost",
    "errors",
    "expected",
    "delivered",
    "delivered_per_s",
    "server_cpu_s",
    "server_cores",
    "server_rss_bytes",
    "requests",
    "bytes_up",
    "bytes_down",
    "duration_s",
    "rate",
    "payload_bytes",
    "loadgen_cpu_s",
    "time_wait_before",
    "slo_met",
    "broke_reason",
    "run_dir",
    "link",
    "link_rtt_us",
    "ttft_p50_us",
    "ttft_p99_us",
    "itl_p50_us",
    "itl_p99_us",
    "events_per_s",
    "instances",
    "broker",
    "broker_cpu_s",
    "broker_cpu_s_per_million_deliveries",
    "broker_messages_per_s",
    "broker_rss_peak_bytes",
];
