//! The page's "Request-scoped streams" section (request runs only, [`crate::request`]): the
//! workload in one line per run, a table with one row per technique (requests completed and
//! failed, events delivered of expected, TTFT, inter-event gap, lateness and end-to-end
//! percentiles, events and requests per second, server CPU per 10⁶ events and memory per open
//! stream), the claims about streaming a response ([`crate::claims::request`]), then the
//! request charts: TTFT, inter-event gap and lateness by percentile, and,
//! comparing runs, events/s and TTFT p99 against concurrency. Nothing for a broadcast run.

use std::fmt::Write as _;

use super::text::{esc, swatch};
use crate::charts::Chart;
use crate::fmt;
use crate::model::{LatencyUs, Run, TechniqueSummary};
use crate::request;

const COLUMNS: [&str; 17] = [
    "requests ok / failed",
    "events delivered / expected",
    "lost",
    "TTFT p50",
    "TTFT p99",
    "TTFT max",
    "ITL p50",
    "ITL p99",
    "ITL max",
    "lateness p99",
    "e2e p50",
    "e2e p99",
    "events/s",
    "requests/s",
    "requests per event",
    "server CPU-s per 1M events",
    "server memory per stream",
];

fn lat(l: Option<&LatencyUs>, f: fn(&LatencyUs) -> Option<u64>) -> String {
    fmt::opt(l.and_then(f).map(|v| v as f64), fmt::latency_us)
}

fn cells(t: &TechniqueSummary) -> Vec<String> {
    let r = t.request.as_ref();
    let (ttft, itl) = (request::ttft(t), request::itl(t));
    let (late, e2e) = (request::lateness(t), request::e2e(t));
    vec![
        match r.map(|r| (r.requests_completed, r.requests_failed)) {
            Some((Some(ok), Some(failed))) => {
                format!("{} / {}", fmt::count(ok), fmt::count(failed))
            }
            Some((Some(ok), None)) => format!("{} / n/a", fmt::count(ok)),
            _ => "n/a".into(),
        },
        match (t.delivered, t.expected) {
            (Some(d), Some(e)) => format!("{} / {}", fmt::count(d), fmt::count(e)),
            _ => "n/a".into(),
        },
        fmt::opt(t.lost, fmt::count),
        lat(ttft, |l| l.p50),
        lat(ttft, |l| l.p99),
        lat(ttft, |l| l.max),
        lat(itl, |l| l.p50),
        lat(itl, |l| l.p99),
        lat(itl, |l| l.max),
        lat(late, |l| l.p99),
        lat(e2e, |l| l.p50),
        lat(e2e, |l| l.p99),
        fmt::opt(request::events_per_s(t), fmt::sig),
        fmt::opt(r.and_then(|r| r.requests_per_s), fmt::sig),
        fmt::opt(request::requests_per_event(t), fmt::sig),
        fmt::opt(request::cpu_s_per_1m_events(t), fmt::sig),
        fmt::opt(r.and_then(|r| r.server_rss_per_stream_bytes), |b| {
            fmt::bytes(b as f64)
        }),
    ]
}

/// The section, when any run is a request run.
pub(super) fn section(h: &mut String, runs: &[Run], charts: &[Chart], report_dir: &str) {
    if !request::any(runs) {
        return;
    }
    let compare = runs.len() > 1;
    h.push_str("<h2 id=\"request\">Request-scoped streams</h2>\n");
    for run in runs.iter().filter(|r| r.is_request()) {
        if let Some(w) = request::workload(run) {
            let who = if compare {
                format!("{}: ", esc(&run.label))
            } else {
                String::new()
            };
            let _ = writeln!(h, "<p class=\"sub workload\">{who}{}</p>", esc(&w));
        }
    }
    h.push_str(
        "<p class=\"sub\">Each request asks the server for a stream of events paced on an open \
         schedule, each event carrying the time it was due. TTFT: request sent to first event \
         received; ITL: the gap between consecutive events of one stream; lateness: an event \
         received minus the time it was due (received − due); e2e: request sent to the end of \
         its stream. Steady-state window only.</p>\n",
    );
    h.push_str("<div class=\"scroll\"><table class=\"num request\">\n<tr>");
    if compare {
        h.push_str("<th class=\"l\">run</th>");
    }
    h.push_str("<th class=\"l\">technique</th>");
    for c in COLUMNS {
        let _ = write!(h, "<th>{c}</th>");
    }
    h.push_str("</tr>\n");
    for run in runs {
        for t in run.techniques.iter().filter(|t| t.request.is_some()) {
            h.push_str("<tr>");
            if compare {
                let _ = write!(h, "<td class=\"l\">{}</td>", esc(&run.label));
            }
            let _ = write!(h, "<td class=\"l\">{}</td>", swatch(t.technique.name()));
            for c in cells(t) {
                let _ = write!(h, "<td>{}</td>", esc(&c));
            }
            h.push_str("</tr>\n");
        }
    }
    h.push_str("</table></div>\n");
    claims_table(h, runs);
    let mut shown: Vec<&Chart> = charts
        .iter()
        .filter(|c| is_section_chart(&c.file))
        .collect();
    shown.sort_by_key(|c| {
        SECTION_ORDER
            .iter()
            .position(|f| *f == c.file)
            .unwrap_or(usize::MAX)
    });
    for c in shown {
        figure(h, c, report_dir);
    }
}

/// The order of the section's charts (any other request chart after them).
const SECTION_ORDER: [&str; 5] = [
    crate::charts::request::TTFT_FILE,
    crate::charts::request::ITL_FILE,
    crate::charts::latency::FILE,
    crate::charts::concurrency::EVENTS_FILE,
    crate::charts::concurrency::TTFT_FILE,
];

/// Whether the request section shows this chart (and the Charts section does not): the
/// request charts and, in a request run, the lateness chart.
pub(super) fn is_section_chart(file: &str) -> bool {
    crate::charts::request::is_request_chart(file) || file == crate::charts::latency::FILE
}

/// The request claims ([`crate::claims::request`]), one verdict column per request run.
fn claims_table(h: &mut String, runs: &[Run]) {
    let runs: Vec<&Run> = runs.iter().filter(|r| r.is_request()).collect();
    let checked: Vec<_> = runs
        .iter()
        .map(|r| crate::claims::request::check(r))
        .collect();
    h.push_str("<h3>Claims about streaming a response, checked against this run</h3>\n");
    super::tables::verdict_table(
        h,
        "<table class=\"request-claims\">",
        &runs,
        &checked,
        crate::claims::request::CLAIMS.iter(),
    );
}

/// A chart as the page shows it.
pub(super) fn figure(h: &mut String, c: &Chart, report_dir: &str) {
    let _ = writeln!(
        h,
        "<figure><img src=\"{}/{}\" alt=\"{}\" width=\"{}\" height=\"{}\">\
         <figcaption><b>{}.</b> {}</figcaption></figure>",
        esc(report_dir),
        esc(&c.file),
        esc(&c.title),
        crate::charts::WIDTH,
        crate::charts::HEIGHT,
        esc(&c.title),
        esc(&c.caption)
    );
}
