//! The per-technique summary: one [`TechniqueSummary`] per technique, as the `techniques`
//! array of summary.json / `--json`, and as the rows of summary.csv (docs/RUN_FORMAT.md).

use std::collections::BTreeMap;
use std::path::Path;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::run::phases::TechniqueResult;
use crate::technique::Technique;

/// Latency percentiles, µs.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LatencyUs {
    pub count: u64,
    pub min: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

/// A few percentiles of a µs histogram, in ms.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Millis {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

fn latency(h: &Histogram<u64>) -> LatencyUs {
    if h.is_empty() {
        return LatencyUs {
            count: 0,
            min: 0,
            mean: 0.0,
            p50: 0,
            p90: 0,
            p99: 0,
            p999: 0,
            max: 0,
        };
    }
    LatencyUs {
        count: h.len(),
        min: h.min(),
        mean: (h.mean() * 10.0).round() / 10.0,
        p50: h.value_at_quantile(0.50),
        p90: h.value_at_quantile(0.90),
        p99: h.value_at_quantile(0.99),
        p999: h.value_at_quantile(0.999),
        max: h.max(),
    }
}

fn millis(h: &Histogram<u64>) -> Option<Millis> {
    let ms = |us: u64| (us as f64 / 1000.0 * 1000.0).round() / 1000.0;
    (!h.is_empty()).then(|| Millis {
        p50: ms(h.value_at_quantile(0.5)),
        p99: ms(h.value_at_quantile(0.99)),
        max: ms(h.max()),
    })
}

/// One technique's line of the summary. Field names are a public contract (snake_case).
#[derive(Debug, Clone, Serialize)]
pub struct TechniqueSummary {
    pub technique: Technique,
    pub clients: u64,
    pub topics: u32,
    pub payload_bytes: usize,
    pub duration_s: f64,
    pub published: u64,
    pub expected: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub requests: u64,
    pub empty_responses: u64,
    pub reconnects: u64,
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub server_bytes_up: Option<u64>,
    pub server_bytes_down: Option<u64>,
    pub server_requests: Option<u64>,
    pub phase_requests: u64,
    pub phase_bytes_up: u64,
    pub phase_bytes_down: u64,
    pub server_phase_requests: Option<u64>,
    pub server_phase_bytes_up: Option<u64>,
    pub server_phase_bytes_down: Option<u64>,
    pub received_total: u64,
    pub latency_us: LatencyUs,
    pub connect_ms: Option<Millis>,
    pub first_message_ms: Option<Millis>,
    pub server_cpu_s: Option<f64>,
    pub server_rss_bytes: Option<u64>,
    pub server_rss_idle_bytes: Option<u64>,
    pub loadgen_cpu_s: Option<f64>,
    pub loadgen_rss_bytes: Option<u64>,
    pub publish_failures: u64,
    pub publish_lag_max_ms: f64,
    pub clients_not_closed: u64,
    pub errors: BTreeMap<String, u64>,
    pub failure: Option<String>,
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

impl TechniqueSummary {
    pub fn from_result(r: &TechniqueResult) -> TechniqueSummary {
        let w = &r.raw.window;
        let p = &r.raw.phase;
        // Deliveries are gated by the message's window (its sequence number), so the phase
        // totals hold exactly the in-window deliveries, including those that arrived in drain.
        let delivered = p.delivered;
        TechniqueSummary {
            technique: r.raw.technique,
            clients: r.raw.clients,
            topics: r.topics,
            payload_bytes: r.payload_bytes,
            duration_s: round3(r.duration.as_secs_f64()),
            published: r.published,
            expected: r.expected,
            delivered,
            lost: r.expected.saturating_sub(delivered),
            duplicates: p.duplicates,
            out_of_order: p.out_of_order,
            requests: w.requests,
            empty_responses: w.empty_responses,
            reconnects: w.reconnects,
            bytes_up: w.bytes_up,
            bytes_down: w.bytes_down,
            server_bytes_up: r.server_window.map(|s| s.bytes_read),
            server_bytes_down: r.server_window.map(|s| s.bytes_written),
            server_requests: r.server_window.map(|s| s.requests),
            phase_requests: p.requests,
            phase_bytes_up: p.bytes_up,
            phase_bytes_down: p.bytes_down,
            server_phase_requests: r.server_phase.map(|s| s.requests),
            server_phase_bytes_up: r.server_phase.map(|s| s.bytes_read),
            server_phase_bytes_down: r.server_phase.map(|s| s.bytes_written),
            received_total: p.received_total,
            latency_us: latency(&r.raw.latency),
            connect_ms: millis(&r.raw.connect),
            first_message_ms: millis(&r.raw.first_message),
            server_cpu_s: r.server_cpu_s.map(round3),
            server_rss_bytes: r.server_rss_bytes,
            server_rss_idle_bytes: r.server_rss_idle_bytes,
            loadgen_cpu_s: r.loadgen_cpu_s.map(round3),
            loadgen_rss_bytes: r.loadgen_rss_bytes,
            publish_failures: r.publish_failures,
            publish_lag_max_ms: round3(r.publish_lag_max_us as f64 / 1000.0),
            clients_not_closed: r.clients_not_closed as u64,
            // Errors over the whole phase: a failed connect in ramp-up matters too.
            errors: p.error_map(),
            failure: r.failure.clone(),
        }
    }
}

/// The columns of summary.csv, units in the names (docs/RUN_FORMAT.md).
pub const CSV_COLUMNS: &[&str] = &[
    "technique",
    "clients",
    "topics",
    "payload_bytes",
    "duration_s",
    "published",
    "expected",
    "delivered",
    "lost",
    "duplicates",
    "out_of_order",
    "requests",
    "empty_responses",
    "reconnects",
    "bytes_up",
    "bytes_down",
    "server_bytes_up",
    "server_bytes_down",
    "server_requests",
    "latency_count",
    "latency_min_us",
    "latency_mean_us",
    "latency_p50_us",
    "latency_p90_us",
    "latency_p99_us",
    "latency_p999_us",
    "latency_max_us",
    "connect_p50_ms",
    "connect_p99_ms",
    "first_message_p50_ms",
    "server_cpu_s",
    "server_rss_bytes",
    "server_rss_idle_bytes",
    "loadgen_cpu_s",
    "loadgen_rss_bytes",
    "errors_total",
    "phase_bytes_up",
    "phase_bytes_down",
    "server_phase_bytes_up",
    "server_phase_bytes_down",
    "publish_failures",
];

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

impl TechniqueSummary {
    fn csv_row(&self) -> Vec<String> {
        let l = &self.latency_us;
        vec![
            self.technique.name().to_string(),
            self.clients.to_string(),
            self.topics.to_string(),
            self.payload_bytes.to_string(),
            self.duration_s.to_string(),
            self.published.to_string(),
            self.expected.to_string(),
            self.delivered.to_string(),
            self.lost.to_string(),
            self.duplicates.to_string(),
            self.out_of_order.to_string(),
            self.requests.to_string(),
            self.empty_responses.to_string(),
            self.reconnects.to_string(),
            self.bytes_up.to_string(),
            self.bytes_down.to_string(),
            opt(self.server_bytes_up),
            opt(self.server_bytes_down),
            opt(self.server_requests),
            l.count.to_string(),
            l.min.to_string(),
            l.mean.to_string(),
            l.p50.to_string(),
            l.p90.to_string(),
            l.p99.to_string(),
            l.p999.to_string(),
            l.max.to_string(),
            opt(self.connect_ms.as_ref().map(|m| m.p50)),
            opt(self.connect_ms.as_ref().map(|m| m.p99)),
            opt(self.first_message_ms.as_ref().map(|m| m.p50)),
            opt(self.server_cpu_s),
            opt(self.server_rss_bytes),
            opt(self.server_rss_idle_bytes),
            opt(self.loadgen_cpu_s),
            opt(self.loadgen_rss_bytes),
            self.errors.values().sum::<u64>().to_string(),
            self.phase_bytes_up.to_string(),
            self.phase_bytes_down.to_string(),
            opt(self.server_phase_bytes_up),
            opt(self.server_phase_bytes_down),
            self.publish_failures.to_string(),
        ]
    }
}

/// Writes summary.csv.
pub fn write_csv(path: &Path, rows: &[TechniqueSummary]) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record(CSV_COLUMNS)?;
    for r in rows {
        w.write_record(r.csv_row())?;
    }
    w.flush()?;
    Ok(())
}
