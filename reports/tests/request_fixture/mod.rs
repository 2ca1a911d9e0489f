//! Request-mode run directories (`pushbench run --mode request`, issue 16) built in a test from
//! the format's own types: each technique's summary with `request`, `ttft_us` and `itl_us`, its
//! lateness in `latency_us`, and the histograms `<technique>.hlog` (lateness),
//! `.ttft.hlog`, `.itl.hlog` and `.e2e.hlog` written with hdrhistogram as the load generator
//! writes them.
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use contract::run_dir::{LatencyUs, RequestSummary, Technique, TechniqueSummary};
use hdrhistogram::Histogram;

use super::run_fixture;

/// Percentiles (p50, p99, max) of one figure, µs.
pub type Pct = (u64, u64, u64);

/// A summary's percentiles of `count` values that are `p50` for 98% of them, `p99` for the
/// rest but one, and `max` for the last (what [`histogram`] records).
pub fn latency(count: u64, (p50, p99, max): Pct) -> LatencyUs {
    LatencyUs {
        count: Some(count),
        min: Some(p50),
        mean: Some(p50 as f64),
        p50: Some(p50),
        p90: Some(p50),
        p99: Some(p99),
        p999: Some(p99),
        max: Some(max),
    }
}

/// The histogram [`latency`] describes.
pub fn histogram(count: u64, (p50, p99, max): Pct) -> Histogram<u64> {
    let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
    for i in 0..count {
        let v = if i + 1 == count {
            max
        } else if i * 100 < count * 98 {
            p50
        } else {
            p99
        };
        h.record(v).unwrap();
    }
    h
}

/// What one technique measured in the fixture.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    pub technique: Technique,
    pub concurrency: u64,
    /// Events delivered in the 10 s window (of `expected`).
    pub delivered: u64,
    pub expected: u64,
    /// HTTP requests in the window.
    pub requests: u64,
    pub ttft: Pct,
    pub itl: Pct,
    pub lateness: Pct,
    pub e2e: Pct,
    pub requests_completed: u64,
    pub requests_failed: u64,
    pub server_cpu_s: f64,
    pub rss_per_stream: u64,
}

/// The technique's summary as a request run writes it.
pub fn technique(m: &Measured) -> TechniqueSummary {
    let mut s = run_fixture::technique(
        m.technique,
        m.concurrency,
        m.delivered,
        (m.lateness.0, m.lateness.1),
        100,
        Some((m.server_cpu_s, 20_000_000, 8_000_000)),
    );
    s.payload_bytes = Some(64);
    s.expected = Some(m.expected);
    s.lost = Some(m.expected - m.delivered);
    s.requests = Some(m.requests);
    s.published = None;
    s.latency_us = latency(m.delivered, m.lateness);
    let ttft = latency(m.requests_completed, m.ttft);
    let itl = latency(m.delivered, m.itl);
    s.request = Some(RequestSummary {
        model: "closed".into(),
        concurrency: Some(m.concurrency),
        arrival_rate: None,
        events_per_request: Some(200),
        event_bytes: Some(64),
        first_delay_ms: Some(20.0),
        interval_ms: Some(50.0),
        distribution: Some("fixed".into()),
        requests_started: Some(m.requests_completed + m.requests_failed),
        requests_completed: Some(m.requests_completed),
        requests_failed: Some(m.requests_failed),
        ttft_us: ttft.clone(),
        itl_us: itl.clone(),
        lateness_us: s.latency_us.clone(),
        e2e_us: latency(m.requests_completed, m.e2e),
        events_per_s: Some(m.delivered as f64 / 10.0),
        requests_per_s: Some(m.requests_completed as f64 / 10.0),
        server_cpu_s_per_1m_events: Some(m.server_cpu_s * 1e6 / m.delivered as f64),
        server_rss_per_stream_bytes: Some(m.rss_per_stream),
        open_streams_mean: Some(m.concurrency as f64),
        open_streams_max: Some(m.concurrency),
    });
    s.ttft_us = Some(ttft);
    s.itl_us = Some(itl);
    s
}

/// The manifest's params of a closed-model request run at `concurrency`.
pub fn params(concurrency: u64) -> serde_json::Value {
    serde_json::json!({
        "mode": "request", "concurrency": concurrency, "arrival_rate": null, "events": 200,
        "event_bytes": 64, "first_delay": "20ms", "interval": "50ms",
        "interval_distribution": "fixed", "techniques": "sse,ws,stream,long-poll",
    })
}

/// Writes the run directory `dir`: the usual files ([`run_fixture::write`]) and each
/// technique's TTFT, ITL and end-to-end histograms.
pub fn write(dir: &Path, concurrency: u64, measured: &[Measured]) {
    let ts: Vec<TechniqueSummary> = measured.iter().map(technique).collect();
    let rows: Vec<_> = measured
        .iter()
        .enumerate()
        .flat_map(|(i, m)| {
            run_fixture::seconds(
                m.technique,
                None,
                i as f64 * 15.0,
                10,
                m.delivered as f64 / 10.0,
            )
        })
        .collect();
    let manifest = run_fixture::manifest(params(concurrency), None);
    run_fixture::write(dir, &manifest, &ts, &rows);
    for m in measured {
        let name = m.technique.name();
        // The lateness histogram, with the maximum the summary states.
        write_hlog(dir, name, &histogram(m.delivered, m.lateness));
        for (metric, count, pct) in [
            ("ttft", m.requests_completed, m.ttft),
            ("itl", m.delivered, m.itl),
            ("e2e", m.requests_completed, m.e2e),
        ] {
            write_hlog(dir, &format!("{name}.{metric}"), &histogram(count, pct));
        }
    }
}

/// Writes `histograms/<stem>.hlog`.
pub fn write_hlog(dir: &Path, stem: &str, h: &Histogram<u64>) {
    let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let log =
        contract::run_dir::hlog::write_log(h, start, start, Duration::from_secs(10), stem).unwrap();
    std::fs::write(dir.join("histograms").join(format!("{stem}.hlog")), log).unwrap();
}

/// The four techniques of the fixture at `concurrency`: WebSocket has the lowest TTFT p99,
/// SSE and HTTP stream keep the 50 ms interval, long poll's median gap is 20% long and its
/// lateness p99 (80 ms) is over one interval: it fell behind its schedule.
pub fn four(concurrency: u64) -> Vec<Measured> {
    let base = Measured {
        technique: Technique::Sse,
        concurrency,
        delivered: 10_000,
        expected: 10_000,
        requests: 50,
        ttft: (20_500, 22_000, 25_000),
        itl: (50_000, 51_000, 55_000),
        lateness: (400, 1_200, 3_000),
        e2e: (10_020_000, 10_030_000, 10_040_000),
        requests_completed: 50,
        requests_failed: 0,
        server_cpu_s: 0.25,
        rss_per_stream: 12_288,
    };
    vec![
        Measured {
            technique: Technique::LongPoll,
            delivered: 9_900,
            requests: 2_475,
            ttft: (24_000, 30_000, 41_000),
            itl: (60_000, 70_000, 90_000),
            lateness: (9_000, 80_000, 95_000),
            requests_completed: 48,
            requests_failed: 2,
            server_cpu_s: 0.9,
            rss_per_stream: 4_096,
            ..base
        },
        Measured {
            technique: Technique::Stream,
            ttft: (20_400, 23_000, 26_000),
            itl: (50_100, 51_500, 56_000),
            server_cpu_s: 0.2,
            ..base
        },
        base,
        Measured {
            technique: Technique::Ws,
            ttft: (20_300, 21_000, 22_500),
            itl: (49_900, 50_800, 54_000),
            lateness: (300, 1_000, 2_500),
            server_cpu_s: 0.3,
            rss_per_stream: 16_384,
            ..base
        },
    ]
}
