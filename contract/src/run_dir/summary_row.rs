//! A row of summary.csv ([`SummaryRow`], docs/RUN_FORMAT.md): the scalar figures of a
//! technique's [`TechniqueSummary`] flattened, the unit in each column's name.

use serde::{Deserialize, Serialize};

use super::csv::opt_num;
use super::request::req;
use super::summary::{Millis, TechniqueSummary};
use super::technique::Technique;

/// One row of summary.csv: the scalar figures of a [`TechniqueSummary`], flattened, the unit
/// in the column name. Readers find columns by name (more may be appended).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryRow {
    pub technique: Technique,
    pub clients: Option<u64>,
    pub topics: Option<u64>,
    pub payload_bytes: Option<u64>,
    #[serde(default, serialize_with = "opt_num")]
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
    pub latency_count: Option<u64>,
    pub latency_min_us: Option<u64>,
    #[serde(default, serialize_with = "opt_num")]
    pub latency_mean_us: Option<f64>,
    pub latency_p50_us: Option<u64>,
    pub latency_p90_us: Option<u64>,
    pub latency_p99_us: Option<u64>,
    pub latency_p999_us: Option<u64>,
    pub latency_max_us: Option<u64>,
    #[serde(default, serialize_with = "opt_num")]
    pub connect_p50_ms: Option<f64>,
    #[serde(default, serialize_with = "opt_num")]
    pub connect_p99_ms: Option<f64>,
    #[serde(default, serialize_with = "opt_num")]
    pub first_message_p50_ms: Option<f64>,
    #[serde(default, serialize_with = "opt_num")]
    pub server_cpu_s: Option<f64>,
    pub server_rss_bytes: Option<u64>,
    pub server_rss_idle_bytes: Option<u64>,
    #[serde(default, serialize_with = "opt_num")]
    pub loadgen_cpu_s: Option<f64>,
    pub loadgen_rss_bytes: Option<u64>,
    pub errors_total: Option<u64>,
    pub phase_bytes_up: Option<u64>,
    pub phase_bytes_down: Option<u64>,
    pub server_phase_bytes_up: Option<u64>,
    pub server_phase_bytes_down: Option<u64>,
    pub publish_failures: Option<u64>,
    /// The subscribers' link label (`none`: direct) and its RTT, µs.
    #[serde(default)]
    pub link: Option<String>,
    pub link_rtt_us: Option<u64>,
    /// The link emulator's CPU seconds and µs per received message (empty: none ran).
    #[serde(default, serialize_with = "opt_num")]
    pub link_cpu_s: Option<f64>,
    #[serde(default, serialize_with = "opt_num")]
    pub link_cpu_us_per_message: Option<f64>,
    /// With `--repeat N`: the repetitions that measured this technique (empty: one run), and
    /// the min and max over them of p50, p99 and server CPU (the columns above: medians).
    #[serde(default)]
    pub repetitions: Option<u64>,
    #[serde(default, serialize_with = "opt_num")]
    pub latency_p50_min_us: Option<f64>,
    #[serde(default, serialize_with = "opt_num")]
    pub latency_p50_max_us: Option<f64>,
    #[serde(default, serialize_with = "opt_num")]
    pub latency_p99_min_us: Option<f64>,
    #[serde(default, serialize_with = "opt_num")]
    pub latency_p99_max_us: Option<f64>,
    #[serde(default, serialize_with = "opt_num")]
    pub server_cpu_min_s: Option<f64>,
    #[serde(default, serialize_with = "opt_num")]
    pub server_cpu_max_s: Option<f64>,
    /// With `--fault`: the specs, the recovery behaviour, connections cut (drops and idle
    /// cuts), loss per 1,000 cuts, recovery time and gaps announced (empty: no faults).
    #[serde(default)]
    pub fault: Option<String>,
    #[serde(default)]
    pub recovery: Option<String>,
    pub cuts: Option<u64>,
    #[serde(default, serialize_with = "opt_num")]
    pub lost_per_1000_cuts: Option<f64>,
    #[serde(default, serialize_with = "opt_num")]
    pub recovery_p50_ms: Option<f64>,
    #[serde(default, serialize_with = "opt_num")]
    pub recovery_p99_ms: Option<f64>,
    pub gaps: Option<u64>,
    /// Request mode (`--mode request`): TTFT, inter-event gap and end-to-end percentiles (µs),
    /// events and completed requests per second, the requests started / completed / failed,
    /// server CPU seconds per million events, server memory per open stream, the model
    /// (`closed` / `open`), its concurrency or arrival rate (empty in a broadcast run).
    pub ttft_p50_us: Option<u64>,
    pub ttft_p99_us: Option<u64>,
    pub ttft_max_us: Option<u64>,
    pub itl_p50_us: Option<u64>,
    pub itl_p99_us: Option<u64>,
    pub itl_max_us: Option<u64>,
    pub e2e_p50_us: Option<u64>,
    pub e2e_p99_us: Option<u64>,
    #[serde(default, serialize_with = "opt_num")]
    pub events_per_s: Option<f64>,
    #[serde(default, serialize_with = "opt_num")]
    pub requests_per_s: Option<f64>,
    pub requests_started: Option<u64>,
    pub requests_completed: Option<u64>,
    pub requests_failed: Option<u64>,
    #[serde(default, serialize_with = "opt_num")]
    pub server_cpu_s_per_1m_events: Option<f64>,
    pub server_rss_per_stream_bytes: Option<u64>,
    #[serde(default)]
    pub request_model: Option<String>,
    pub concurrency: Option<u64>,
    #[serde(default, serialize_with = "opt_num")]
    pub arrival_rate_per_s: Option<f64>,
}

impl From<&TechniqueSummary> for SummaryRow {
    fn from(s: &TechniqueSummary) -> SummaryRow {
        let l = &s.latency_us;
        let ms = |m: &Option<Millis>, f: fn(&Millis) -> Option<f64>| m.as_ref().and_then(f);
        let reps = s.repetitions.as_ref();
        let range = |name: &str, f: fn(&super::repetitions::Range) -> Option<f64>| {
            reps.and_then(|r| r.get(name)).and_then(f)
        };
        SummaryRow {
            technique: s.technique,
            clients: s.clients,
            topics: s.topics,
            payload_bytes: s.payload_bytes,
            duration_s: s.duration_s,
            published: s.published,
            expected: s.expected,
            delivered: s.delivered,
            lost: s.lost,
            duplicates: s.duplicates,
            out_of_order: s.out_of_order,
            requests: s.requests,
            empty_responses: s.empty_responses,
            reconnects: s.reconnects,
            bytes_up: s.bytes_up,
            bytes_down: s.bytes_down,
            server_bytes_up: s.server_bytes_up,
            server_bytes_down: s.server_bytes_down,
            server_requests: s.server_requests,
            latency_count: l.count,
            latency_min_us: l.min,
            latency_mean_us: l.mean,
            latency_p50_us: l.p50,
            latency_p90_us: l.p90,
            latency_p99_us: l.p99,
            latency_p999_us: l.p999,
            latency_max_us: l.max,
            connect_p50_ms: ms(&s.connect_ms, |m| m.p50),
            connect_p99_ms: ms(&s.connect_ms, |m| m.p99),
            first_message_p50_ms: ms(&s.first_message_ms, |m| m.p50),
            server_cpu_s: s.server_cpu_s,
            server_rss_bytes: s.server_rss_bytes,
            server_rss_idle_bytes: s.server_rss_idle_bytes,
            loadgen_cpu_s: s.loadgen_cpu_s,
            loadgen_rss_bytes: s.loadgen_rss_bytes,
            errors_total: Some(s.errors_total()),
            phase_bytes_up: s.phase_bytes_up,
            phase_bytes_down: s.phase_bytes_down,
            server_phase_bytes_up: s.server_phase_bytes_up,
            server_phase_bytes_down: s.server_phase_bytes_down,
            publish_failures: s.publish_failures,
            link: Some(s.link.as_ref().map_or("none", |l| &l.spec).to_string()),
            link_rtt_us: Some(s.link.as_ref().and_then(|l| l.rtt_us).unwrap_or(0)),
            link_cpu_s: s.link_emulator.as_ref().and_then(|e| e.cpu_s),
            link_cpu_us_per_message: s.link_emulator.as_ref().and_then(|e| e.cpu_us_per_message),
            repetitions: reps.map(|r| r.count),
            latency_p50_min_us: range("p50", |r| r.min),
            latency_p50_max_us: range("p50", |r| r.max),
            latency_p99_min_us: range("p99", |r| r.min),
            latency_p99_max_us: range("p99", |r| r.max),
            server_cpu_min_s: range("server_cpu_s", |r| r.min),
            server_cpu_max_s: range("server_cpu_s", |r| r.max),
            fault: s.fault.as_ref().map(|f| f.spec.clone()),
            recovery: s.fault.as_ref().map(|f| f.recovery.clone()),
            cuts: s
                .fault
                .as_ref()
                .map(|f| f.cuts.unwrap_or(0) + f.idle_cuts.unwrap_or(0)),
            lost_per_1000_cuts: s.fault.as_ref().and_then(|f| f.lost_per_1000_cuts),
            recovery_p50_ms: ms(&s.fault.as_ref().and_then(|f| f.recovery_ms.clone()), |m| {
                m.p50
            }),
            recovery_p99_ms: ms(&s.fault.as_ref().and_then(|f| f.recovery_ms.clone()), |m| {
                m.p99
            }),
            gaps: s.fault.as_ref().and_then(|f| f.gaps),
            ttft_p50_us: s.request_ttft().and_then(|l| l.p50),
            ttft_p99_us: s.request_ttft().and_then(|l| l.p99),
            ttft_max_us: s.request_ttft().and_then(|l| l.max),
            itl_p50_us: s.request_itl().and_then(|l| l.p50),
            itl_p99_us: s.request_itl().and_then(|l| l.p99),
            itl_max_us: s.request_itl().and_then(|l| l.max),
            e2e_p50_us: req(s, |r| r.e2e_us.p50),
            e2e_p99_us: req(s, |r| r.e2e_us.p99),
            events_per_s: req(s, |r| r.events_per_s),
            requests_per_s: req(s, |r| r.requests_per_s),
            requests_started: req(s, |r| r.requests_started),
            requests_completed: req(s, |r| r.requests_completed),
            requests_failed: req(s, |r| r.requests_failed),
            server_cpu_s_per_1m_events: req(s, |r| r.server_cpu_s_per_1m_events),
            server_rss_per_stream_bytes: req(s, |r| r.server_rss_per_stream_bytes),
            request_model: req(s, |r| Some(r.model.clone()).filter(|m| !m.is_empty())),
            concurrency: req(s, |r| r.concurrency),
            arrival_rate_per_s: req(s, |r| r.arrival_rate),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_the_documented_ones() {
        let doc = "technique, clients, topics, payload_bytes, duration_s, published, expected, \
            delivered, lost, duplicates, out_of_order, requests, empty_responses, reconnects, \
            bytes_up, bytes_down, server_bytes_up, server_bytes_down, server_requests, \
            latency_count, latency_min_us, latency_mean_us, latency_p50_us, latency_p90_us, \
            latency_p99_us, latency_p999_us, latency_max_us, connect_p50_ms, connect_p99_ms, \
            first_message_p50_ms, server_cpu_s, server_rss_bytes, server_rss_idle_bytes, \
            loadgen_cpu_s, loadgen_rss_bytes, errors_total, phase_bytes_up, phase_bytes_down, \
            server_phase_bytes_up, server_phase_bytes_down, publish_failures, link, link_rtt_us, \
            link_cpu_s, link_cpu_us_per_message, repetitions, latency_p50_min_us, \
            latency_p50_max_us, latency_p99_min_us, latency_p99_max_us, server_cpu_min_s, \
            server_cpu_max_s, fault, recovery, cuts, lost_per_1000_cuts, recovery_p50_ms, \
            recovery_p99_ms, gaps, ttft_p50_us, ttft_p99_us, ttft_max_us, itl_p50_us, \
            itl_p99_us, itl_max_us, e2e_p50_us, e2e_p99_us, events_per_s, requests_per_s, \
            requests_started, requests_completed, requests_failed, server_cpu_s_per_1m_events, \
            server_rss_per_stream_bytes, request_model, concurrency, arrival_rate_per_s";
        let documented: Vec<&str> = doc.split(", ").collect();
        assert_eq!(super::super::csv::columns::<SummaryRow>(), documented);
    }
}
