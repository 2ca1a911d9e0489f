//! The claims people make about streaming a response token by token (issue 16), checked
//! against one request run ([`crate::request`]); shown in the page's request section, so that
//! a broadcast run's claims table keeps its rows. Each rule is shown as written here; a claim
//! whose techniques or figures are missing is "not measured".

use super::{Claim, Verdict};
use crate::colors::display_name as name;
use crate::fmt;
use crate::model::{Run, TechniqueSummary};
use crate::request;

/// The claims, in order, with their rules.
pub const CLAIMS: [(&str, &str); 4] = [
    (
        "SSE streams tokens as well as WebSocket",
        "holds when SSE delivered every event and its TTFT p99 and ITL p99 are each at most 10% \
         (or 1 ms, whichever is larger) above WebSocket's",
    ),
    (
        "Long polling keeps a token stream's pace",
        "holds when long poll's ITL p50 is within 5% of the configured interval and its \
         lateness p99 is under one interval",
    ),
    (
        "Streaming keeps the server's schedule",
        "holds when every streaming technique measured (HTTP stream, SSE, WebSocket) had its \
         lateness p99 under one interval",
    ),
    (
        "A streamed response costs the server less CPU than a long-polled one",
        "holds when every streaming technique measured used less server CPU per million \
         events than long poll",
    ),
];

const STREAMING: [&str; 3] = ["stream", "sse", "ws"];

fn not_measured(what: String) -> (Verdict, String) {
    (Verdict::NotMeasured, what)
}

fn p99(l: Option<&crate::model::LatencyUs>) -> Option<f64> {
    l.and_then(|l| l.p99).map(|v| v as f64)
}

fn within(a: f64, b: f64) -> bool {
    a <= b + (b * 0.1).max(1000.0)
}

fn sse_vs_ws(run: &Run) -> (Verdict, String) {
    let get = |t: &str| run.technique(t).filter(|t| t.request.is_some());
    let (Some(s), Some(w)) = (get("sse"), get("ws")) else {
        return not_measured("needs SSE and WebSocket in request mode".into());
    };
    let (Some(st), Some(wt), Some(si), Some(wi)) = (
        p99(request::ttft(s)),
        p99(request::ttft(w)),
        p99(request::itl(s)),
        p99(request::itl(w)),
    ) else {
        return not_measured("no TTFT or ITL p99 for SSE or WebSocket".into());
    };
    let complete = s.lost == Some(0) && s.delivered.is_some();
    let lat = fmt::latency_us;
    let mut figure = format!(
        "TTFT p99 SSE {} vs WebSocket {}; ITL p99 SSE {} vs WebSocket {}",
        lat(st),
        lat(wt),
        lat(si),
        lat(wi)
    );
    if !complete {
        figure += &format!("; SSE lost {}", fmt::opt(s.lost, fmt::count));
    }
    (
        Verdict::from(complete && within(st, wt) && within(si, wi)),
        figure,
    )
}

fn long_poll_pace(run: &Run) -> (Verdict, String) {
    let Some(t) = run.technique("long-poll").filter(|t| t.request.is_some()) else {
        return not_measured(format!("{} did not run in request mode", name("long-poll")));
    };
    let (Some(iv), Some(p50), Some(late)) = (
        request::interval_ms(run, t).filter(|v| *v > 0.0),
        request::itl(t).and_then(|l| l.p50),
        p99(request::lateness(t)),
    ) else {
        return not_measured("no interval, ITL p50 or lateness p99 for long poll".into());
    };
    let iv = iv * 1000.0;
    let off = (p50 as f64 - iv) / iv;
    (
        Verdict::from(off.abs() <= 0.05 && late < iv),
        format!(
            "ITL p50 {} ({} off the {} interval), lateness p99 {}",
            fmt::latency_us(p50 as f64),
            fmt::percent(off.abs()),
            fmt::latency_us(iv),
            fmt::latency_us(late)
        ),
    )
}

fn streaming(run: &Run) -> Vec<&TechniqueSummary> {
    STREAMING
        .iter()
        .filter_map(|n| run.technique(n).filter(|t| t.request.is_some()))
        .collect()
}

fn schedule(run: &Run) -> (Verdict, String) {
    let mut parts = Vec::new();
    let mut holds = true;
    for t in streaming(run) {
        let (Some(iv), Some(late)) = (
            request::interval_ms(run, t).filter(|v| *v > 0.0),
            p99(request::lateness(t)),
        ) else {
            continue;
        };
        holds &= late < iv * 1000.0;
        parts.push(format!(
            "{} {}",
            name(t.technique.name()),
            fmt::latency_us(late)
        ));
    }
    if parts.is_empty() {
        return not_measured("no streaming technique with an interval and lateness p99".into());
    }
    (
        Verdict::from(holds),
        format!("lateness p99: {}", parts.join(", ")),
    )
}

fn cpu(run: &Run) -> (Verdict, String) {
    let Some(lp) = run
        .technique("long-poll")
        .and_then(request::cpu_s_per_1m_events)
    else {
        return not_measured("no server CPU per event for long poll".into());
    };
    let others: Vec<(&TechniqueSummary, f64)> = streaming(run)
        .into_iter()
        .filter_map(|t| Some((t, request::cpu_s_per_1m_events(t)?)))
        .collect();
    if others.is_empty() {
        return not_measured("no streaming technique with server CPU per event".into());
    }
    let shown: Vec<String> = others
        .iter()
        .map(|(t, v)| format!("{} {}", name(t.technique.name()), fmt::sig(*v)))
        .collect();
    (
        Verdict::from(others.iter().all(|(_, v)| *v < lp)),
        format!(
            "CPU-s per 1M events: long poll {} vs {}",
            fmt::sig(lp),
            shown.join(", ")
        ),
    )
}

/// Checks every request claim against `run` (a request run).
pub fn check(run: &Run) -> Vec<Claim> {
    let outcomes = [sse_vs_ws(run), long_poll_pace(run), schedule(run), cpu(run)];
    CLAIMS
        .iter()
        .zip(outcomes)
        .map(|((claim, rule), (verdict, figure))| Claim {
            claim,
            rule,
            verdict,
            figure,
        })
        .collect()
}
