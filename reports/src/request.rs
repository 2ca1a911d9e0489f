//! Request mode (`pushbench run --mode request`, issue 16): the figures a request-scoped run
//! adds to a technique's summary (`request`, `ttft_us`, `itl_us` in summary.json), read once
//! here so that the CSV, the page's section, the charts and the findings agree.
//!
//! In a request run a technique's `latency_us` (and its `<technique>.hlog`) holds each event's
//! **lateness**: received minus the time the server's schedule made it due. TTFT, ITL and
//! end-to-end time have their own percentiles (and, when the run wrote them, histograms:
//! `<technique>.ttft.hlog`, `.itl.hlog`, `.e2e.hlog`). Everything here is `None` for a
//! broadcast technique, so a broadcast run's outputs do not change.

use crate::model::{LatencyUs, Run, TechniqueSummary};

pub use contract::run_dir::RequestSummary;

/// The columns request mode appends to `report/techniques.csv` (after every other column,
/// only when some run of the report is a request run; empty for a broadcast technique).
pub const COLUMNS: [(&str, &str); 18] = [
    (
        "ttft_p50_us",
        "request mode: request sent to first event, median (µs)",
    ),
    (
        "ttft_p99_us",
        "request mode: time to first event, 99th percentile (µs)",
    ),
    (
        "ttft_max_us",
        "request mode: time to first event, maximum (µs)",
    ),
    (
        "itl_p50_us",
        "request mode: gap between consecutive events, median (µs)",
    ),
    (
        "itl_p99_us",
        "request mode: inter-event gap, 99th percentile (µs)",
    ),
    ("itl_max_us", "request mode: inter-event gap, maximum (µs)"),
    (
        "e2e_p50_us",
        "request mode: request sent to stream end, median (µs)",
    ),
    (
        "e2e_p99_us",
        "request mode: request to stream end, 99th percentile (µs)",
    ),
    (
        "events_per_s",
        "request mode: events received per second of the window",
    ),
    (
        "requests_per_s",
        "request mode: requests completed per second",
    ),
    (
        "requests_started",
        "request mode: requests started in the window",
    ),
    (
        "requests_completed",
        "request mode: requests whose stream ended complete",
    ),
    ("requests_failed", "request mode: requests that failed"),
    (
        "server_cpu_s_per_1m_events",
        "request mode: server CPU seconds per million events delivered (s)",
    ),
    (
        "server_rss_per_stream_bytes",
        "request mode: (RSS under load - idle RSS) / mean open streams (bytes)",
    ),
    (
        "request_model",
        "request mode: closed (fixed concurrency) or open (Poisson arrivals)",
    ),
    (
        "concurrency",
        "request mode, closed model: streams kept open at once",
    ),
    (
        "arrival_rate_per_s",
        "request mode, open model: requests arriving per second",
    ),
];

/// Whether any run of the report has a request-mode technique.
pub fn any(runs: &[Run]) -> bool {
    runs.iter().any(Run::is_request)
}

/// Time to first event, µs: the top-level `ttft_us`, else `request.ttft_us`.
pub fn ttft(t: &TechniqueSummary) -> Option<&LatencyUs> {
    t.request_ttft()
}

/// Inter-event gap, µs: the top-level `itl_us`, else `request.itl_us`.
pub fn itl(t: &TechniqueSummary) -> Option<&LatencyUs> {
    t.request_itl()
}

/// Lateness (received − due), µs: `latency_us` in a request run (whose `request.lateness_us`
/// is the same histogram; used when `latency_us` is empty).
pub fn lateness(t: &TechniqueSummary) -> Option<&LatencyUs> {
    let r = t.request.as_ref()?;
    if t.latency_us.p99.is_some() || t.latency_us.count.is_some_and(|c| c > 0) {
        Some(&t.latency_us)
    } else {
        Some(&r.lateness_us)
    }
}

/// End-to-end time, µs.
pub fn e2e(t: &TechniqueSummary) -> Option<&LatencyUs> {
    t.request.as_ref().map(|r| &r.e2e_us)
}

/// Events received per second: `request.events_per_s`, else delivered / duration.
pub fn events_per_s(t: &TechniqueSummary) -> Option<f64> {
    let r = t.request.as_ref()?;
    r.events_per_s
        .or_else(|| match (t.delivered, t.duration_s) {
            (Some(d), Some(s)) if s > 0.0 => Some(d as f64 / s),
            _ => None,
        })
}

/// Server CPU seconds per million events: the run's figure, else server CPU / delivered.
pub fn cpu_s_per_1m_events(t: &TechniqueSummary) -> Option<f64> {
    let r = t.request.as_ref()?;
    r.server_cpu_s_per_1m_events
        .or_else(|| match (t.server_cpu_s, t.delivered) {
            (Some(c), Some(d)) if d > 0 => Some(c * 1e6 / d as f64),
            _ => None,
        })
}

/// HTTP requests (each POST, each long poll, each WebSocket handshake) per delivered event.
pub fn requests_per_event(t: &TechniqueSummary) -> Option<f64> {
    t.request.as_ref()?;
    match (t.requests, t.delivered) {
        (Some(r), Some(d)) if d > 0 => Some(r as f64 / d as f64),
        _ => None,
    }
}

/// The concurrency a request run was measured at: the closed model's `concurrency`, else the
/// most streams open at once (the open model), else the technique's `clients`.
pub fn concurrency(t: &TechniqueSummary) -> Option<u64> {
    let r = t.request.as_ref()?;
    r.concurrency.or(r.open_streams_max).or(t.clients)
}

/// The configured inter-event interval, ms (the technique's, else the manifest's).
pub fn interval_ms(run: &Run, t: &TechniqueSummary) -> Option<f64> {
    t.request
        .as_ref()
        .and_then(|r| r.interval_ms)
        .or_else(|| run.manifest.param_f64("interval_ms"))
}

/// A manifest parameter as text (`params.<key>`: a string as it is, a number as written).
fn param(run: &Run, key: &str) -> Option<String> {
    match run.manifest.params.get(key)? {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        v => Some(v.to_string()),
    }
}

/// A duration in ms, as the page writes it: `0 ms`, `12.5 ms`, `1.50 s`.
fn ms(v: f64) -> String {
    crate::fmt::latency_us(v * 1000.0)
}

/// The workload of a request run in one sentence, from its first request technique (the
/// manifest's `params` where the summary lacks a figure): the model, its concurrency or
/// arrival rate, events × bytes, the first delay, the interval and its distribution.
pub fn workload(run: &Run) -> Option<String> {
    let r = run.techniques.iter().find_map(|t| t.request.as_ref())?;
    let model = if r.model.is_empty() {
        param(run, "model").unwrap_or_default()
    } else {
        r.model.clone()
    };
    let load = match model.as_str() {
        "open" => format!(
            "Open model: requests arrive at {} per second (Poisson), whatever is in flight",
            r.arrival_rate
                .map(crate::fmt::sig)
                .or_else(|| param(run, "arrival_rate"))
                .unwrap_or_else(|| "an unknown rate".into())
        ),
        _ => format!(
            "Closed model: {} streams open at once, each client asking again as its stream \
             ends",
            r.concurrency
                .map(crate::fmt::count)
                .or_else(|| param(run, "concurrency"))
                .unwrap_or_else(|| "an unknown number of".into())
        ),
    };
    let events = r
        .events_per_request
        .map(crate::fmt::count)
        .or_else(|| param(run, "events"))
        .unwrap_or_else(|| "?".into());
    let bytes = r
        .event_bytes
        .map(|b| crate::fmt::bytes(b as f64))
        .or_else(|| param(run, "event_bytes").map(|b| format!("{b} B")))
        .unwrap_or_else(|| "? B".into());
    let first = r
        .first_delay_ms
        .map(ms)
        .or_else(|| param(run, "first_delay"))
        .unwrap_or_else(|| "?".into());
    let interval = r
        .interval_ms
        .map(ms)
        .or_else(|| param(run, "interval"))
        .unwrap_or_else(|| "?".into());
    let dist = r
        .distribution
        .clone()
        .or_else(|| param(run, "interval_distribution"))
        .unwrap_or_else(|| "fixed".into());
    let gaps = if dist == "exponential" {
        format!("then gaps drawn from an exponential distribution of mean {interval}")
    } else {
        format!("then one every {interval} ({dist})")
    };
    Some(format!(
        "{load}; each request asks for {events} events × {bytes}, the first due {first} after \
         the request, {gaps}."
    ))
}

fn int(v: Option<u64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// A derived float, rounded to 6 decimals (as the rest of the CSV).
fn derived(v: Option<f64>) -> String {
    v.map(|v| ((v * 1e6).round() / 1e6).to_string())
        .unwrap_or_default()
}

/// The [`COLUMNS`] cells of one technique (all empty for a broadcast technique).
pub fn csv_cells(t: &TechniqueSummary) -> Vec<String> {
    let Some(r) = t.request.as_ref() else {
        return vec![String::new(); COLUMNS.len()];
    };
    let (ttft, itl, e2e) = (ttft(t), itl(t), e2e(t));
    vec![
        int(ttft.and_then(|l| l.p50)),
        int(ttft.and_then(|l| l.p99)),
        int(ttft.and_then(|l| l.max)),
        int(itl.and_then(|l| l.p50)),
        int(itl.and_then(|l| l.p99)),
        int(itl.and_then(|l| l.max)),
        int(e2e.and_then(|l| l.p50)),
        int(e2e.and_then(|l| l.p99)),
        derived(events_per_s(t)),
        derived(r.requests_per_s),
        int(r.requests_started),
        int(r.requests_completed),
        int(r.requests_failed),
        derived(cpu_s_per_1m_events(t)),
        int(r.server_rss_per_stream_bytes),
        r.model.clone(),
        int(r.concurrency),
        derived(r.arrival_rate),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn technique(json: serde_json::Value) -> TechniqueSummary {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_broadcast_technique_has_empty_cells() {
        let t = technique(serde_json::json!({"technique": "sse", "delivered": 10}));
        assert_eq!(csv_cells(&t), vec![String::new(); COLUMNS.len()]);
        assert_eq!(
            (ttft(&t), events_per_s(&t), concurrency(&t)),
            (None, None, None)
        );
    }

    #[test]
    fn figures_fall_back_to_the_counts() {
        let t = technique(serde_json::json!({
            "technique": "long-poll", "delivered": 2000, "requests": 500, "duration_s": 4.0,
            "server_cpu_s": 0.5, "clients": 7,
            "request": {"model": "closed", "ttft_us": {"p50": 5100, "p99": 6000, "max": 7000}},
        }));
        assert_eq!(events_per_s(&t), Some(500.0));
        assert_eq!(cpu_s_per_1m_events(&t), Some(250.0));
        assert_eq!(requests_per_event(&t), Some(0.25));
        assert_eq!(concurrency(&t), Some(7));
        assert_eq!(ttft(&t).and_then(|l| l.p99), Some(6000));
        let cells = csv_cells(&t);
        assert_eq!((cells[1].as_str(), cells[15].as_str()), ("6000", "closed"));
    }
}
