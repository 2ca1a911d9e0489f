//! The per-technique summary as this writer computes it: a [`TechniqueResult`] turned into
//! the format's [`TechniqueSummary`] (summary.json / `--json`) and its rows of summary.csv
//! (docs/RUN_FORMAT.md).

use std::path::Path;

use contract::run_dir::{
    LatencyUs, LinkEmulatorSummary, LinkSummary, Millis, SummaryRow, TechniqueSummary,
};
use hdrhistogram::Histogram;

use crate::link::{LinkCounts, LinkSpec};
use crate::measure::TechniqueResult;
use crate::measure::links::LinkFigures;

/// The figures of a µs histogram (zeros when it is empty).
pub fn latency(h: &Histogram<u64>) -> LatencyUs {
    if h.is_empty() {
        return LatencyUs {
            count: Some(0),
            min: Some(0),
            mean: Some(0.0),
            p50: Some(0),
            p90: Some(0),
            p99: Some(0),
            p999: Some(0),
            max: Some(0),
        };
    }
    LatencyUs {
        count: Some(h.len()),
        min: Some(h.min()),
        mean: Some((h.mean() * 10.0).round() / 10.0),
        p50: Some(h.value_at_quantile(0.50)),
        p90: Some(h.value_at_quantile(0.90)),
        p99: Some(h.value_at_quantile(0.99)),
        p999: Some(h.value_at_quantile(0.999)),
        max: Some(h.max()),
    }
}

/// A few percentiles of a µs histogram, in ms (None if it is empty).
pub(crate) fn millis(h: &Histogram<u64>) -> Option<Millis> {
    let ms = |us: u64| Some((us as f64 / 1000.0 * 1000.0).round() / 1000.0);
    (!h.is_empty()).then(|| Millis {
        p50: ms(h.value_at_quantile(0.5)),
        p99: ms(h.value_at_quantile(0.99)),
        max: ms(h.max()),
    })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// One technique's line of the summary.
pub fn summary_of(r: &TechniqueResult) -> TechniqueSummary {
    if let Some(reason) = &r.skipped {
        return TechniqueSummary::skipped(r.raw.technique, reason);
    }
    let w = &r.raw.window;
    let p = &r.raw.phase;
    // Deliveries are gated by the message's window (its sequence number), so the phase
    // totals hold exactly the in-window deliveries, including those that arrived in drain.
    let delivered = p.delivered;
    let mut s = TechniqueSummary {
        technique: r.raw.technique,
        clients: Some(r.raw.clients),
        topics: Some(u64::from(r.topics)),
        payload_bytes: Some(r.payload_bytes as u64),
        duration_s: Some(round3(r.duration.as_secs_f64())),
        published: Some(r.published),
        expected: Some(r.expected),
        delivered: Some(delivered),
        lost: Some(r.expected.saturating_sub(delivered)),
        duplicates: Some(p.duplicates),
        out_of_order: Some(p.out_of_order),
        requests: Some(w.requests),
        empty_responses: Some(w.empty_responses),
        reconnects: Some(w.reconnects),
        bytes_up: Some(w.bytes_up),
        bytes_down: Some(w.bytes_down),
        server_bytes_up: r.server_window.map(|s| s.bytes_read),
        server_bytes_down: r.server_window.map(|s| s.bytes_written),
        server_requests: r.server_window.map(|s| s.requests),
        phase_requests: Some(p.requests),
        phase_bytes_up: Some(p.bytes_up),
        phase_bytes_down: Some(p.bytes_down),
        server_phase_requests: r.server_phase.map(|s| s.requests),
        server_phase_bytes_up: r.server_phase.map(|s| s.bytes_read),
        server_phase_bytes_down: r.server_phase.map(|s| s.bytes_written),
        received_total: Some(p.received_total),
        latency_us: latency(&r.raw.latency),
        connect_ms: millis(&r.raw.connect),
        first_message_ms: millis(&r.raw.first_message),
        server_cpu_s: r.server_cpu_s.map(round3),
        server_rss_bytes: r.server_rss_bytes,
        server_rss_idle_bytes: r.server_rss_idle_bytes,
        loadgen_cpu_s: r.loadgen_cpu_s.map(round3),
        loadgen_rss_bytes: r.loadgen_rss_bytes,
        publish_failures: Some(r.publish_failures),
        publish_lag_max_ms: Some(round3(r.publish_lag_max_us as f64 / 1000.0)),
        clients_not_closed: Some(r.clients_not_closed as u64),
        // Errors over the whole phase: a failed connect in ramp-up matters too.
        errors: p.error_map(),
        failure: r.failure.clone(),
        link: link_of(r.link.as_ref().and_then(|l| l.subscribers.as_ref())),
        publisher_link: link_of(r.link.as_ref().and_then(|l| l.publisher.as_ref())),
        link_emulator: r.link.as_ref().map(|l| emulator_of(l, p.received_total)),
        skipped: None,
        repetitions: None,
        fault: r.fault.clone(),
        request: None,
        ttft_us: None,
        itl_us: None,
        broker: r.broker.clone(),
    };
    if let Some(q) = &r.request {
        let req = super::request::summary(r, q);
        s.ttft_us = Some(req.ttft_us.clone());
        s.itl_us = Some(req.itl_us.clone());
        if super::request::no_lateness(r) {
            s.latency_us = LatencyUs::default();
        }
        s.request = Some(req);
    }
    s
}

/// One link's entry: its spec's numbers and what it carried.
fn link_of(l: Option<&(LinkSpec, LinkCounts)>) -> Option<LinkSummary> {
    let (spec, c) = l?;
    let us = |d: std::time::Duration| Some(d.as_micros() as u64);
    Some(LinkSummary {
        spec: spec.label(),
        rtt_us: us(spec.rtt),
        jitter_us: us(spec.jitter),
        down_bits_per_s: spec.down.map(|r| r.bits_per_s()),
        up_bits_per_s: spec.up.map(|r| r.bits_per_s()),
        connects: Some(c.connects),
        connect_failures: Some(c.connect_failures),
        bytes_down: Some(c.bytes_down),
        bytes_up: Some(c.bytes_up),
    })
}

/// The emulator's entry: its CPU, also per message the subscribers received in the phase.
fn emulator_of(l: &LinkFigures, received: u64) -> LinkEmulatorSummary {
    LinkEmulatorSummary {
        processes: Some(l.processes),
        threads: Some(l.threads),
        cpu_s: l.cpu_s.map(|c| (c * 1e4).round() / 1e4),
        cpu_us_per_message: l
            .cpu_s
            .filter(|_| received > 0)
            .map(|c| (c * 1e6 / received as f64 * 100.0).round() / 100.0),
    }
}

/// Writes summary.csv: one [`SummaryRow`] per technique.
pub fn write_csv(path: &Path, techniques: &[TechniqueSummary]) -> Result<(), csv::Error> {
    let rows: Vec<SummaryRow> = techniques.iter().map(SummaryRow::from).collect();
    contract::run_dir::csv::write_file(path, &rows)
}
