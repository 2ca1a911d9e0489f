//! The per-technique summary: one [`TechniqueSummary`] per technique, the `techniques` array of
//! summary.json / `--json` (docs/RUN_FORMAT.md); its flat row of summary.csv is
//! [`super::summary_row::SummaryRow`]. Counts cover the steady-state window; `duration_s` is its length.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::fault::FaultSummary;
use super::lenient::null_default;
use super::link::{LinkEmulatorSummary, LinkSummary};
use super::repetitions::Repetitions;
use super::request::RequestSummary;
use super::technique::Technique;

/// Publish-to-receive latency, µs (`latency_us`). The writer puts 0 in every statistic when
/// `count` is 0.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyUs {
    pub count: Option<u64>,
    pub min: Option<u64>,
    /// Rounded to 0.1 µs.
    pub mean: Option<f64>,
    pub p50: Option<u64>,
    pub p90: Option<u64>,
    pub p99: Option<u64>,
    pub p999: Option<u64>,
    pub max: Option<u64>,
}

/// A few percentiles of a duration, ms (`connect_ms`, `first_message_ms`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Millis {
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
}

/// One technique's entry of summary.json, keys in the file's order. The writer fills every
/// field the format always holds; `None` is written `null` ("unknown") where the format allows
/// it, and is what a reader gets for a key an older or leaner file lacks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TechniqueSummary {
    pub technique: Technique,
    pub clients: Option<u64>,
    pub topics: Option<u64>,
    pub payload_bytes: Option<u64>,
    pub duration_s: Option<f64>,
    /// Messages the publisher scheduled in the window (all topics).
    pub published: Option<u64>,
    /// Σ over topics of published × subscribers.
    pub expected: Option<u64>,
    /// Distinct expected messages received.
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
    /// Over the whole technique phase, not only the window.
    pub phase_requests: Option<u64>,
    pub phase_bytes_up: Option<u64>,
    pub phase_bytes_down: Option<u64>,
    pub server_phase_requests: Option<u64>,
    pub server_phase_bytes_up: Option<u64>,
    pub server_phase_bytes_down: Option<u64>,
    pub received_total: Option<u64>,
    #[serde(default, deserialize_with = "null_default")]
    pub latency_us: LatencyUs,
    /// `null` if no connection succeeded.
    pub connect_ms: Option<Millis>,
    /// `null` if no message arrived.
    pub first_message_ms: Option<Millis>,
    pub server_cpu_s: Option<f64>,
    pub server_rss_bytes: Option<u64>,
    pub server_rss_idle_bytes: Option<u64>,
    pub loadgen_cpu_s: Option<f64>,
    pub loadgen_rss_bytes: Option<u64>,
    /// Publishes that failed (of all the publisher's publishes, not only the window's).
    pub publish_failures: Option<u64>,
    pub publish_lag_max_ms: Option<f64>,
    pub clients_not_closed: Option<u64>,
    /// `{kind: count}` over the whole phase.
    #[serde(default, deserialize_with = "null_default")]
    pub errors: BTreeMap<String, u64>,
    /// Why this technique failed, if it did.
    #[serde(default)]
    pub failure: Option<String>,
    /// The subscribers' emulated link (`--link`); `null`: direct connections.
    #[serde(default)]
    pub link: Option<LinkSummary>,
    /// The publisher's emulated link (`--publisher-link`); `null`: direct.
    #[serde(default)]
    pub publisher_link: Option<LinkSummary>,
    /// The emulator that carried them; `null` when none ran.
    #[serde(default)]
    pub link_emulator: Option<LinkEmulatorSummary>,
    /// Why this technique was not measured, e.g. `not offered by this target` (its profile has
    /// no such technique); every figure is then `null`. `null`: measured.
    #[serde(default)]
    pub skipped: Option<String>,
    /// With `--repeat N` (N > 1): every figure's min, median and max over the repetitions;
    /// the figures above are then the medians. `null`: one repetition.
    #[serde(default)]
    pub repetitions: Option<Repetitions>,
    /// With `--fault`: what the faults did (docs/FAULTS.md). `null`: no faults.
    #[serde(default)]
    pub fault: Option<FaultSummary>,
    /// Request mode (`--mode request`): TTFT, inter-event gaps, lateness, end-to-end time and
    /// throughput (docs/REQUEST.md). `null`: a broadcast run.
    #[serde(default)]
    pub request: Option<RequestSummary>,
    /// Request mode: request sent to first event (the same as `request.ttft_us`); `null` in a
    /// broadcast run.
    #[serde(default)]
    pub ttft_us: Option<LatencyUs>,
    /// Request mode: gap between consecutive events of a stream (`request.itl_us`).
    #[serde(default)]
    pub itl_us: Option<LatencyUs>,
    /// With `pushbench run --broker`: the child broker's CPU, memory and messages in the
    /// window and the server's final view of it (docs/RUN_FORMAT.md). `null`: no broker.
    #[serde(default)]
    pub broker: Option<super::BrokerFigures>,
}

impl TechniqueSummary {
    /// A technique that was not measured, for `reason`: every figure unknown.
    pub fn skipped(technique: Technique, reason: &str) -> TechniqueSummary {
        TechniqueSummary {
            technique,
            clients: None,
            topics: None,
            payload_bytes: None,
            duration_s: None,
            published: None,
            expected: None,
            delivered: None,
            lost: None,
            duplicates: None,
            out_of_order: None,
            requests: None,
            empty_responses: None,
            reconnects: None,
            bytes_up: None,
            bytes_down: None,
            server_bytes_up: None,
            server_bytes_down: None,
            server_requests: None,
            phase_requests: None,
            phase_bytes_up: None,
            phase_bytes_down: None,
            server_phase_requests: None,
            server_phase_bytes_up: None,
            server_phase_bytes_down: None,
            received_total: None,
            latency_us: LatencyUs::default(),
            connect_ms: None,
            first_message_ms: None,
            server_cpu_s: None,
            server_rss_bytes: None,
            server_rss_idle_bytes: None,
            loadgen_cpu_s: None,
            loadgen_rss_bytes: None,
            publish_failures: None,
            publish_lag_max_ms: None,
            clients_not_closed: None,
            errors: BTreeMap::new(),
            failure: None,
            link: None,
            publisher_link: None,
            link_emulator: None,
            skipped: Some(reason.to_string()),
            repetitions: None,
            fault: None,
            request: None,
            ttft_us: None,
            itl_us: None,
            broker: None,
        }
    }

    /// Errors of every kind.
    pub fn errors_total(&self) -> u64 {
        self.errors.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run_dir::SummaryRow;

    #[test]
    fn a_lean_entry_reads_with_figures_absent() {
        let t: TechniqueSummary = serde_json::from_str(
            r#"{"technique": "sse", "clients": 10, "delivered": 5, "latency_us": null,
                "connect_ms": null, "errors": null, "unknown_key": 1}"#,
        )
        .unwrap();
        assert_eq!(t.technique, Technique::Sse);
        assert_eq!(
            (t.clients, t.delivered, t.requests),
            (Some(10), Some(5), None)
        );
        assert_eq!(t.latency_us, LatencyUs::default());
        assert_eq!((t.connect_ms.is_none(), t.errors_total()), (true, 0));
        let row = SummaryRow::from(&t);
        assert_eq!((row.latency_count, row.errors_total), (None, Some(0)));
    }

    #[test]
    fn keys_are_written_in_order_with_null_for_unknown() {
        let t: TechniqueSummary = serde_json::from_str(r#"{"technique": "long-poll"}"#).unwrap();
        let text = serde_json::to_string(&t).unwrap();
        let keys = "technique clients topics payload_bytes duration_s published expected \
            delivered lost duplicates out_of_order requests empty_responses reconnects bytes_up \
            bytes_down server_bytes_up server_bytes_down server_requests phase_requests \
            phase_bytes_up phase_bytes_down server_phase_requests server_phase_bytes_up \
            server_phase_bytes_down received_total latency_us connect_ms first_message_ms \
            server_cpu_s server_rss_bytes server_rss_idle_bytes loadgen_cpu_s loadgen_rss_bytes \
            publish_failures publish_lag_max_ms clients_not_closed errors failure link \
            publisher_link link_emulator skipped repetitions fault request ttft_us itl_us broker";
        let mut expected = String::from("{");
        for k in keys.split_whitespace() {
            let v = match k {
                "technique" => "\"long-poll\"",
                "latency_us" => {
                    r#"{"count":null,"min":null,"mean":null,"p50":null,"p90":null,"p99":null,"p999":null,"max":null}"#
                }
                "errors" => "{}",
                _ => "null",
            };
            expected.push_str(&format!("\"{k}\":{v},"));
        }
        expected.pop();
        expected.push('}');
        assert_eq!(text, expected);
    }
}
