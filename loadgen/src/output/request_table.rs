//! The table printed at the end of a request-mode run (docs/REQUEST.md): per technique, its
//! requests, events, loss, TTFT, inter-event gaps, lateness, throughput and server cost.

use contract::run_dir::{LatencyUs, TechniqueSummary};

use super::table::{count, layout};

/// Whether `rows` are a request-mode run's (any technique has a `request` entry).
pub fn is_request_run(rows: &[TechniqueSummary]) -> bool {
    rows.iter().any(|r| r.request.is_some())
}

fn ms(v: Option<u64>) -> String {
    v.map_or_else(|| "-".into(), |us| format!("{:.1}", us as f64 / 1000.0))
}

fn p50_p99(l: Option<&LatencyUs>) -> String {
    match l {
        Some(l) if l.count.unwrap_or(0) > 0 => format!("{}/{}", ms(l.p50), ms(l.p99)),
        _ => "-".into(),
    }
}

fn num(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".into(), |x| format!("{x:.digits$}"))
}

/// Formats the table: one line per technique, skipped ones after it.
pub fn render(rows: &[TechniqueSummary]) -> String {
    let head = [
        "technique",
        "requests ok/failed",
        "events delivered/expected",
        "lost",
        "TTFT p50/p99 ms",
        "ITL p50/p99 ms",
        "late p99 ms",
        "events/s",
        "srv CPU-s/1M ev",
        "RSS KiB/stream",
    ];
    let mut lines: Vec<Vec<String>> = vec![head.iter().map(|s| s.to_string()).collect()];
    let (skipped, rows): (Vec<_>, Vec<_>) = rows.iter().partition(|r| r.skipped.is_some());
    for r in &rows {
        let q = r.request.as_ref();
        let late = q
            .map(|q| &q.lateness_us)
            .filter(|l| l.count.unwrap_or(0) > 0)
            .map_or_else(|| "-".into(), |l| ms(l.p99));
        lines.push(vec![
            r.technique.name().to_string(),
            format!(
                "{}/{}",
                count(q.and_then(|q| q.requests_completed)),
                count(q.and_then(|q| q.requests_failed))
            ),
            format!("{}/{}", count(r.delivered), count(r.expected)),
            count(r.lost),
            p50_p99(r.ttft_us.as_ref()),
            p50_p99(r.itl_us.as_ref()),
            late,
            num(q.and_then(|q| q.events_per_s), 0),
            num(q.and_then(|q| q.server_cpu_s_per_1m_events), 2),
            num(
                q.and_then(|q| q.server_rss_per_stream_bytes)
                    .map(|b| b as f64 / 1024.0),
                1,
            ),
        ]);
    }
    layout(&lines, &skipped)
}
