//! The findings: plain sentences computed from one run's numbers, never pre-written. Each
//! sentence says what was measured, with the figure: delivery and loss, the lowest p99, short
//! poll's requests per message against long poll's, each framing's bytes over the payload, what
//! each connection cost the server, and whether client and server byte counts agree. A request
//! run ([`crate::request`]) says events and lateness instead, and adds [`request`]'s findings.

mod caveats;
mod request;

pub use caveats::{cpu_caveat, memory_caveat};

use crate::colors::display_name as name;
use crate::fmt;
use crate::model::{Figures, Run, TechniqueSummary};

/// The findings of one run, in reading order (plain text; the page escapes them).
pub fn findings(run: &Run) -> Vec<String> {
    let ts = &run.techniques;
    let mut out = Vec::new();
    if ts.is_empty() {
        out.push("No technique has results in this run.".into());
        return out;
    }
    // In a request run the messages are events and `latency_us` is their lateness.
    let req = run.is_request();
    let (noun, unit) = if req {
        ("lateness", "event")
    } else {
        ("latency", "message")
    };
    out.extend(crate::repeat::sentence(run));
    out.extend(at_a_glance(ts, noun));
    out.extend(delivery(ts, unit));
    out.extend(request::findings(run));
    out.extend(ts.iter().filter_map(|t| {
        let n = t.publish_failures.filter(|n| *n > 0)?;
        Some(format!(
            "{} failed while {} ran (counted over the whole run, not only the steady \
             window): a message never sent cannot be delivered, so part of any loss here is \
             the publisher's, not the technique's.",
            fmt::plural(n, "publish attempt"),
            name(t.technique.name())
        ))
    }));
    out.extend(lowest_p99(ts, noun));
    if !req {
        // A request run says these per event, in its own findings.
        out.extend(requests(run));
    }
    out.extend(bytes(ts));
    if !req {
        out.extend(server_cost(ts));
    }
    out.extend(memory_caveat(ts));
    out.extend(cpu_caveat(ts));
    out.extend(byte_agreement(ts));
    out.into_iter().map(capitalize).collect()
}

/// Sentences start with a capital letter, even when they start with a technique's name.
fn capitalize(s: String) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_lowercase() => c.to_uppercase().chain(chars).collect(),
        _ => s,
    }
}

/// The techniques with the lowest value of a figure (all of them when tied, or, in a repeated
/// run, when their min–max of `figure` overlaps the lowest one's), and that value.
fn lowest(
    ts: &[TechniqueSummary],
    (value, figure): (impl Fn(&TechniqueSummary) -> Option<f64>, &str),
) -> Option<(String, f64)> {
    let with: Vec<(&TechniqueSummary, f64)> =
        ts.iter().filter_map(|t| Some((t, value(t)?))).collect();
    let best = with.iter().map(|(_, v)| *v).fold(f64::INFINITY, f64::min);
    if !best.is_finite() {
        return None;
    }
    let first = with.iter().find(|(_, v)| *v <= best * (1.0 + 1e-9))?.0;
    let near = crate::repeat::overlapping(first, ts, figure);
    let names: Vec<String> = with
        .iter()
        .filter(|(t, v)| {
            *v <= best * (1.0 + 1e-9) || near.iter().any(|n| n.technique == t.technique)
        })
        .map(|(t, _)| name(t.technique.name()))
        .collect();
    let joined = match names.as_slice() {
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
        [] => return None,
    };
    if near.is_empty() {
        Some((joined, best))
    } else {
        Some((format!("{joined} (ranges overlap)"), best))
    }
}

/// One sentence naming the best technique on each figure.
fn at_a_glance(ts: &[TechniqueSummary], noun: &str) -> Option<String> {
    let mut parts = Vec::new();
    use crate::repeat::{BYTES_PER_MSG, CPU_PER_1M, P99, REQUESTS_PER_MSG, RSS_PER_CLIENT};
    let p99 = |t: &TechniqueSummary| t.latency_us.p99.map(|v| v as f64);
    if let Some((n, v)) = lowest(ts, (p99, P99)) {
        parts.push(format!("lowest p99 {noun}: {n} ({})", fmt::latency_us(v)));
    }
    if let Some((n, v)) = lowest(ts, (TechniqueSummary::requests_per_msg, REQUESTS_PER_MSG)) {
        parts.push(format!(
            "fewest requests per message: {n} ({})",
            fmt::sig(v)
        ));
    }
    if let Some((n, v)) = lowest(ts, (TechniqueSummary::bytes_per_msg, BYTES_PER_MSG)) {
        parts.push(format!("fewest bytes per message: {n} ({})", fmt::bytes(v)));
    }
    if let Some((n, v)) = lowest(ts, (TechniqueSummary::cpu_ms_per_1k_msgs, CPU_PER_1M)) {
        parts.push(format!(
            "least server CPU per message: {n} ({} ms per 1,000)",
            fmt::sig(v)
        ));
    }
    if memory_caveat(ts).is_none()
        && let Some((n, v)) = lowest(ts, (TechniqueSummary::rss_per_conn, RSS_PER_CLIENT))
    {
        parts.push(format!(
            "least server memory per connection: {n} ({})",
            fmt::bytes(v)
        ));
    }
    (!parts.is_empty()).then(|| format!("At a glance: {}.", parts.join("; ")))
}

fn delivery(ts: &[TechniqueSummary], unit: &str) -> Vec<String> {
    let complete = |t: &TechniqueSummary| {
        t.lost == Some(0) && t.delivered.is_some() && t.delivered == t.expected
    };
    let mut out = Vec::new();
    if ts.iter().all(complete) {
        let dups: u64 = ts.iter().filter_map(|t| t.duplicates).sum();
        out.push(format!(
            "Every technique delivered every expected {unit} ({} deliveries in all), with {}.",
            fmt::count(ts.iter().filter_map(|t| t.delivered).sum()),
            if dups == 0 {
                "no duplicates".to_string()
            } else {
                format!("{} duplicates", fmt::count(dups))
            }
        ));
    } else {
        for t in ts.iter().filter(|t| !complete(t)) {
            match (t.delivered, t.expected) {
                (Some(d), Some(e)) if e > 0 => out.push(format!(
                    "{} delivered {} of {} expected {unit}s ({}): {} lost.",
                    name(t.technique.name()),
                    fmt::count(d),
                    fmt::count(e),
                    fmt::percent(d as f64 / e as f64),
                    fmt::count(e.saturating_sub(d)),
                )),
                _ => out.push(format!(
                    "{}: delivery was not measured (no expected/delivered counts).",
                    name(t.technique.name())
                )),
            }
        }
    }
    out
}

fn lowest_p99(ts: &[TechniqueSummary], noun: &str) -> Option<String> {
    let mut with: Vec<(&TechniqueSummary, f64)> = ts
        .iter()
        .filter_map(|t| Some((t, t.latency_us.p99? as f64)))
        .collect();
    with.sort_by(|a, b| a.1.total_cmp(&b.1));
    let (best, b) = *with.first()?;
    let mut s = format!(
        "{} had the lowest p99 {noun}: {}",
        name(best.technique.name()),
        fmt::latency_us(b)
    );
    let near = crate::repeat::overlapping(best, ts, crate::repeat::P99);
    if !near.is_empty() {
        let names: Vec<String> = near.iter().map(|t| name(t.technique.name())).collect();
        s += &format!(
            " (median; its min–max over the repetitions overlaps {}'s, so no clear lead)",
            names.join(" and ")
        );
    }
    if let Some((worst, w)) = with.last().filter(|_| with.len() > 1) {
        s += &format!(
            "; the highest was {}'s, {}{}",
            name(worst.technique.name()),
            fmt::latency_us(*w),
            if b > 0.0 {
                format!(" ({}× as long)", fmt::sig(w / b))
            } else {
                String::new()
            }
        );
    }
    s.push('.');
    Some(s)
}

fn requests(run: &Run) -> Vec<String> {
    let poll = run.technique("poll");
    let long = run.technique("long-poll");
    let rpm = |t: Option<&TechniqueSummary>| t.and_then(TechniqueSummary::requests_per_msg);
    let mut out = Vec::new();
    if let (Some(p), Some(t)) = (rpm(poll), poll) {
        let interval = run
            .manifest
            .param_f64("poll_interval_ms")
            .map(|ms| format!(" polling every {} ms", fmt::sig(ms)))
            .unwrap_or_default();
        let empty = t
            .empty_share()
            .map(|s| format!(" ({} of them answered with nothing new)", fmt::percent(s)))
            .unwrap_or_default();
        let mut s = format!(
            "Short poll{interval} sent {} requests per delivered message{empty}",
            fmt::sig(p)
        );
        match rpm(long) {
            Some(l) if l > 0.0 && p >= l => {
                s += &format!(
                    "; long poll sent {}: short poll spent {}× as many requests per message.",
                    fmt::sig(l),
                    fmt::sig(p / l)
                )
            }
            Some(l) if p > 0.0 => {
                s += &format!(
                    "; long poll sent {}: {}× as many as short poll{}.",
                    fmt::sig(l),
                    fmt::sig(l / p),
                    if p < 1.0 {
                        format!(
                            ", whose polls carried {} messages each on average",
                            fmt::sig(1.0 / p)
                        )
                    } else {
                        String::new()
                    }
                )
            }
            Some(l) => s += &format!("; long poll sent {}.", fmt::sig(l)),
            None => s.push('.'),
        }
        out.push(s);
    } else if let Some(l) = rpm(long) {
        out.push(format!(
            "Long poll sent {} requests per delivered message (short poll was not measured).",
            fmt::sig(l)
        ));
    }
    out
}

fn bytes(ts: &[TechniqueSummary]) -> Vec<String> {
    ts.iter()
        .filter_map(|t| {
            let payload = t.payload_bytes? as f64;
            let total = t.bytes_per_msg()?;
            let over = total - payload;
            let pct = if payload > 0.0 {
                format!(" ({} of the payload)", fmt::percent(over / payload))
            } else {
                String::new()
            };
            Some(format!(
                "{} moved {} per delivered message of {} payload ({} down, {} up): {} of \
                 framing, headers and requests over the payload{pct}.",
                name(t.technique.name()),
                fmt::bytes(total),
                fmt::bytes(payload),
                fmt::bytes(t.bytes_down_per_msg()?),
                fmt::bytes(t.bytes_up_per_msg()?),
                fmt::bytes(over),
            ))
        })
        .collect()
}

fn server_cost(ts: &[TechniqueSummary]) -> Vec<String> {
    let mut out = Vec::new();
    let per_conn: Vec<String> = ts
        .iter()
        .filter_map(|t| {
            Some(format!(
                "{} {}",
                name(t.technique.name()),
                fmt::bytes(t.rss_per_conn()?)
            ))
        })
        .collect();
    if !per_conn.is_empty() {
        out.push(format!(
            "Each client connection cost the server this much resident memory (peak minus \
             idle RSS, per client): {}.",
            per_conn.join(", ")
        ));
    }
    let mut cpu: Vec<(&TechniqueSummary, f64)> = ts
        .iter()
        .filter_map(|t| Some((t, t.cpu_ms_per_1k_msgs()?)))
        .collect();
    cpu.sort_by(|a, b| a.1.total_cmp(&b.1));
    if let (Some((lo, a)), Some((hi, b))) = (cpu.first(), cpu.last()) {
        let mut s = format!(
            "The server spent the least CPU per message on {}: {} ms per 1,000 delivered \
             messages",
            name(lo.technique.name()),
            fmt::sig(*a)
        );
        if cpu.len() > 1 {
            s += &format!(
                "; the most on {}: {} ms per 1,000",
                name(hi.technique.name()),
                fmt::sig(*b)
            );
        }
        s.push('.');
        out.push(s);
    }
    out
}

/// Client and server count bytes independently (DESIGN rule 4); say whether they agree.
fn byte_agreement(ts: &[TechniqueSummary]) -> Vec<String> {
    let mut compared = 0;
    let mut off = Vec::new();
    for t in ts {
        for (dir, client, server) in [
            ("up", t.bytes_up, t.server_bytes_up),
            ("down", t.bytes_down, t.server_bytes_down),
        ] {
            if let (Some(c), Some(s)) = (client, server) {
                compared += 1;
                let diff = c.abs_diff(s) as f64 / c.max(s).max(1) as f64;
                if diff > 0.001 {
                    off.push(format!(
                        "{} {dir} (client {}, server {}: {} apart)",
                        name(t.technique.name()),
                        fmt::count(c),
                        fmt::count(s),
                        fmt::percent(diff)
                    ));
                }
            }
        }
    }
    if compared == 0 {
        return vec![
            "The server's own byte counts are not in this run, so the client's \
                     counts could not be checked against them."
                .into(),
        ];
    }
    if off.is_empty() {
        vec!["Client and server byte counts agree within 0.1% for every technique.".into()]
    } else {
        vec![format!(
            "Client and server byte counts differ by more than 0.1% for {}.",
            off.join("; ")
        )]
    }
}
