//! Request mode's share of the run directory (docs/REQUEST.md, docs/RUN_FORMAT.md): a
//! technique's `request` entry ([`RequestSummary`]) and `ttft_us` / `itl_us` computed from
//! what was measured ([`RequestFigures`]), and the histograms written beside the latency one
//! (`<technique>.ttft.hlog`, `.itl.hlog`, `.e2e.hlog`).

use std::path::Path;
use std::time::SystemTime;

use contract::run_dir::{LatencyUs, RequestSummary};

use super::summary::latency;
use crate::config::{Api, Arrival};
use crate::measure::{RequestFigures, TechniqueResult};

/// The `request` entry of `r`, measured as `q` says.
pub fn summary(r: &TechniqueResult, q: &RequestFigures) -> RequestSummary {
    let p = &q.params;
    let secs = r.duration.as_secs_f64();
    let per_s = |n: u64| (secs > 0.0).then(|| round3(n as f64 / secs));
    let openai = matches!(p.api, Api::OpenAi { .. });
    let cpu_per_1m = r
        .server_cpu_s
        .filter(|_| q.events_in_window > 0)
        .map(|c| round3(c * 1e6 / q.events_in_window as f64));
    let rss_per_stream = match (
        r.server_rss_bytes,
        r.server_rss_idle_bytes,
        q.open_streams_mean,
    ) {
        (Some(during), Some(idle), Some(mean)) if mean >= 0.5 => {
            Some((during.saturating_sub(idle) as f64 / mean).round() as u64)
        }
        _ => None,
    };
    RequestSummary {
        model: p.model_name().into(),
        concurrency: match p.arrival {
            Arrival::Closed { concurrency } => Some(concurrency),
            Arrival::Open { .. } => None,
        },
        arrival_rate: match p.arrival {
            Arrival::Open { rate } => Some(rate),
            Arrival::Closed { .. } => None,
        },
        events_per_request: Some(p.events),
        event_bytes: Some(p.event_bytes),
        first_delay_ms: Some(round3(p.first_delay.as_secs_f64() * 1000.0)),
        interval_ms: Some(round3(p.interval.as_secs_f64() * 1000.0)),
        distribution: Some(p.distribution.clone()),
        requests_started: Some(q.started),
        requests_completed: Some(q.completed),
        requests_failed: Some(q.failed),
        ttft_us: latency(&q.ttft),
        itl_us: latency(&q.itl),
        // An OpenAI server's events have no due time: no lateness.
        lateness_us: if openai {
            LatencyUs::default()
        } else {
            latency(&r.raw.latency)
        },
        e2e_us: latency(&q.e2e),
        events_per_s: per_s(q.events_in_window),
        requests_per_s: per_s(q.completed_in_window),
        server_cpu_s_per_1m_events: cpu_per_1m,
        server_rss_per_stream_bytes: rss_per_stream,
        open_streams_mean: q.open_streams_mean.map(round3),
        open_streams_max: q.open_streams_max,
    }
}

/// Whether `r`'s `latency_us` means nothing (an OpenAI server's events have no due time).
pub fn no_lateness(r: &TechniqueResult) -> bool {
    r.request
        .as_ref()
        .is_some_and(|q| matches!(q.params.api, Api::OpenAi { .. }))
}

/// Writes `<technique>.ttft.hlog`, `.itl.hlog` and `.e2e.hlog` into `hist_dir`.
pub fn write_hlogs(
    hist_dir: &Path,
    r: &TechniqueResult,
    q: &RequestFigures,
    run_start: SystemTime,
) -> std::io::Result<()> {
    let name = r.raw.technique.name();
    for (kind, h) in [("ttft", &q.ttft), ("itl", &q.itl), ("e2e", &q.e2e)] {
        let p = hist_dir.join(format!("{name}.{kind}.hlog"));
        let tag = format!("{name}.{kind}");
        super::histograms::write_hlog(&p, h, run_start, r.window_start, r.duration, &tag)?;
    }
    Ok(())
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
