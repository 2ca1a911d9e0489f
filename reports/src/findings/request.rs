//! The findings of a request run ([`crate::request`]): sentences computed from the run's own
//! numbers, each only when the figures it needs are there. Which technique had the lowest TTFT
//! p99 and by how much; whether TTFT p50 sat within 5 ms of the configured first-event delay;
//! whether the median inter-event gap matched the configured interval within 5% (the mean, for
//! exponential gaps); whether lateness p99 exceeded one interval (the server fell behind its
//! schedule); long poll's HTTP requests per event; failed requests; and the server's CPU per
//! million events and memory per open stream.

use crate::colors::display_name as name;
use crate::fmt;
use crate::model::{LatencyUs, Run, TechniqueSummary};
use crate::request;

/// How close the median gap must be to the interval to match it (a share of the interval).
pub const ITL_TOLERANCE: f64 = 0.05;
/// How close TTFT p50 must be to the first-event delay, µs.
pub const TTFT_TOLERANCE_US: f64 = 5_000.0;

/// The request findings of `run`, in reading order (none for a broadcast run).
pub fn findings(run: &Run) -> Vec<String> {
    let ts: Vec<&TechniqueSummary> = run
        .techniques
        .iter()
        .filter(|t| t.request.is_some())
        .collect();
    if ts.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    out.extend(failures(&ts));
    out.extend(lowest_ttft(&ts));
    out.extend(ttft_vs_delay(run, &ts));
    out.extend(itl_vs_interval(run, &ts));
    out.extend(lateness(run, &ts));
    out.extend(long_poll_requests(&ts));
    out.extend(server_cost(&ts));
    out
}

fn lat(v: f64) -> String {
    fmt::latency_us(v)
}

/// `a, b and c`.
fn join(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn failures(ts: &[&TechniqueSummary]) -> Vec<String> {
    let counts: Vec<(&TechniqueSummary, u64, u64)> = ts
        .iter()
        .filter_map(|t| {
            let r = t.request.as_ref()?;
            let failed = r.requests_failed?;
            let all = r.requests_started.unwrap_or(r.requests_completed? + failed);
            Some((*t, failed, all))
        })
        .collect();
    if counts.is_empty() {
        return Vec::new();
    }
    if counts.iter().all(|(_, f, _)| *f == 0) && counts.len() == ts.len() {
        let all: u64 = counts.iter().map(|c| c.2).sum();
        return vec![format!(
            "No request failed ({} requests in all).",
            fmt::count(all)
        )];
    }
    counts
        .iter()
        .filter(|(_, f, _)| *f > 0)
        .map(|(t, failed, all)| {
            format!(
                "{}: {} of {} failed{}.",
                name(t.technique.name()),
                fmt::count(*failed),
                fmt::plural(*all, "request"),
                if *all > 0 {
                    format!(" ({})", fmt::percent(*failed as f64 / *all as f64))
                } else {
                    String::new()
                }
            )
        })
        .collect()
}

/// The techniques sorted by a figure, lowest first.
fn sorted<'a>(
    ts: &[&'a TechniqueSummary],
    value: impl Fn(&TechniqueSummary) -> Option<f64>,
) -> Vec<(&'a TechniqueSummary, f64)> {
    let mut v: Vec<(&TechniqueSummary, f64)> =
        ts.iter().filter_map(|t| Some((*t, value(t)?))).collect();
    v.sort_by(|a, b| a.1.total_cmp(&b.1));
    v
}

fn lowest_ttft(ts: &[&TechniqueSummary]) -> Option<String> {
    let by = sorted(ts, |t| request::ttft(t)?.p99.map(|v| v as f64));
    let (best, b) = *by.first()?;
    let mut s = format!(
        "{} had the lowest TTFT p99: {}",
        name(best.technique.name()),
        lat(b)
    );
    if let Some((next, n)) = by.get(1) {
        let pct = if *n > 0.0 {
            format!(" ({})", fmt::percent((n - b) / n))
        } else {
            String::new()
        };
        s += &format!(
            ", {}{pct} below {}'s {}, the next lowest",
            lat(n - b),
            name(next.technique.name()),
            lat(*n)
        );
    }
    if let Some((worst, w)) = by.last().filter(|_| by.len() > 2) {
        s += &format!(
            "; the highest was {}'s, {}",
            name(worst.technique.name()),
            lat(*w)
        );
    }
    s.push('.');
    Some(s)
}

fn ttft_vs_delay(run: &Run, ts: &[&TechniqueSummary]) -> Option<String> {
    let delay_ms = ts
        .iter()
        .find_map(|t| t.request.as_ref()?.first_delay_ms)
        .or_else(|| run.manifest.param_f64("first_delay_ms"))?;
    let delay = delay_ms * 1000.0;
    let with: Vec<(&TechniqueSummary, f64)> = ts
        .iter()
        .filter_map(|t| Some((*t, request::ttft(t)?.p50? as f64)))
        .collect();
    if with.is_empty() {
        return None;
    }
    let show = |list: &[&(&TechniqueSummary, f64)]| {
        join(
            &list
                .iter()
                .map(|(t, v)| format!("{} {}", name(t.technique.name()), lat(*v)))
                .collect::<Vec<_>>(),
        )
    };
    let (near, far): (Vec<_>, Vec<_>) = with
        .iter()
        .partition(|(_, v)| (v - delay).abs() <= TTFT_TOLERANCE_US);
    let mut s = format!(
        "Against the configured first-event delay of {}, TTFT p50 was ",
        lat(delay)
    );
    if !near.is_empty() {
        s += &format!("within 5 ms for {}", show(&near));
    }
    if !far.is_empty() {
        if !near.is_empty() {
            s += "; ";
        }
        s += &format!("more than 5 ms off for {}", show(&far));
    }
    s.push('.');
    Some(s)
}

fn itl_vs_interval(run: &Run, ts: &[&TechniqueSummary]) -> Vec<String> {
    let exponential = ts
        .iter()
        .any(|t| t.request.as_ref().and_then(|r| r.distribution.as_deref()) == Some("exponential"));
    // Exponential gaps have the interval as their mean (their median is ln 2 of it).
    let (stat, pick): (&str, fn(&LatencyUs) -> Option<f64>) = if exponential {
        ("mean", |l| l.mean)
    } else {
        ("p50", |l| l.p50.map(|v| v as f64))
    };
    let mut matched = Vec::new();
    let mut out = Vec::new();
    let mut interval_us = None;
    for t in ts {
        let (Some(iv), Some(v)) = (request::interval_ms(run, t), request::itl(t).and_then(pick))
        else {
            continue;
        };
        let iv = iv * 1000.0;
        if iv <= 0.0 {
            continue;
        }
        interval_us = Some(iv);
        let off = (v - iv) / iv;
        if off.abs() <= ITL_TOLERANCE {
            matched.push(format!("{} {}", name(t.technique.name()), lat(v)));
        } else {
            out.push(format!(
                "{}'s ITL {stat} was {}, {} {} the configured {} interval: not within 5%.",
                name(t.technique.name()),
                lat(v),
                fmt::percent(off.abs()),
                if off > 0.0 { "above" } else { "below" },
                lat(iv)
            ));
        }
    }
    if let (false, Some(iv)) = (matched.is_empty(), interval_us) {
        out.insert(
            0,
            format!(
                "ITL {stat} matched the configured {} interval within 5% for {}.",
                lat(iv),
                join(&matched)
            ),
        );
    }
    out
}

fn lateness(run: &Run, ts: &[&TechniqueSummary]) -> Vec<String> {
    let mut behind = Vec::new();
    let mut kept = Vec::new();
    for t in ts {
        let (Some(iv), Some(p99)) = (
            request::interval_ms(run, t),
            request::lateness(t).and_then(|l| l.p99),
        ) else {
            continue;
        };
        let iv = iv * 1000.0;
        if iv <= 0.0 {
            continue;
        }
        if p99 as f64 > iv {
            behind.push(format!(
                "{} fell behind its schedule: its lateness p99 was {}, more than one {} \
                 interval ({}× it).",
                name(t.technique.name()),
                lat(p99 as f64),
                lat(iv),
                fmt::sig(p99 as f64 / iv)
            ));
        } else {
            kept.push((t, p99, iv));
        }
    }
    let mut out = Vec::new();
    if let Some((worst, p99, iv)) = kept.iter().max_by_key(|k| k.1) {
        out.push(format!(
            "{} kept to the server's schedule: lateness p99 at most {} ({}'s), under one \
             {} interval.",
            if behind.is_empty() {
                "Every technique".to_string()
            } else {
                join(
                    &kept
                        .iter()
                        .map(|k| name(k.0.technique.name()))
                        .collect::<Vec<_>>(),
                )
            },
            lat(*p99 as f64),
            name(worst.technique.name()),
            lat(*iv)
        ));
    }
    out.extend(behind);
    out
}

fn long_poll_requests(ts: &[&TechniqueSummary]) -> Option<String> {
    let lp = ts.iter().find(|t| t.technique.name() == "long-poll")?;
    let rpe = request::requests_per_event(lp)?;
    let mut s = format!(
        "Long poll made {} HTTP requests per delivered event ({} for {} events",
        fmt::sig(rpe),
        fmt::count(lp.requests?),
        fmt::count(lp.delivered?)
    );
    if rpe > 0.0 {
        s += &format!(": {} events per request on average", fmt::sig(1.0 / rpe));
    }
    s.push(')');
    let others: Vec<String> = ts
        .iter()
        .filter(|t| t.technique.name() != "long-poll")
        .filter_map(|t| {
            Some(format!(
                "{} {}",
                name(t.technique.name()),
                fmt::sig(request::requests_per_event(t)?)
            ))
        })
        .collect();
    if !others.is_empty() {
        s += &format!(", against one request per stream for {}", join(&others));
    }
    s.push('.');
    Some(s)
}

fn server_cost(ts: &[&TechniqueSummary]) -> Vec<String> {
    let mut out = Vec::new();
    let cpu = sorted(ts, request::cpu_s_per_1m_events);
    if let (Some((lo, a)), Some((hi, b))) = (cpu.first(), cpu.last()) {
        let mut s = format!(
            "The server spent the least CPU per event on {}: {} CPU-s per million events",
            name(lo.technique.name()),
            fmt::sig(*a)
        );
        if cpu.len() > 1 {
            s += &format!(
                "; the most on {}: {}",
                name(hi.technique.name()),
                fmt::sig(*b)
            );
        }
        s.push('.');
        out.push(s);
    }
    let mem: Vec<String> = ts
        .iter()
        .filter_map(|t| {
            let b = t.request.as_ref()?.server_rss_per_stream_bytes?;
            Some(format!(
                "{} {}",
                name(t.technique.name()),
                fmt::bytes(b as f64)
            ))
        })
        .collect();
    if !mem.is_empty() {
        out.push(format!(
            "Server memory per open stream (RSS under load minus idle, per stream): {}.",
            mem.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(techniques: serde_json::Value) -> Run {
        Run::for_test(techniques)
    }

    #[test]
    fn no_figures_no_sentences() {
        let r = run(serde_json::json!([{"technique": "sse", "request": {"model": "closed"}}]));
        assert!(findings(&r).is_empty(), "{:?}", findings(&r));
        let broadcast = run(serde_json::json!([{"technique": "sse", "delivered": 5}]));
        assert!(findings(&broadcast).is_empty());
    }

    #[test]
    fn exponential_gaps_are_judged_on_their_mean() {
        let r = run(serde_json::json!([{"technique": "ws", "request": {
            "model": "open", "interval_ms": 10.0, "distribution": "exponential",
            "itl_us": {"p50": 6_930, "mean": 10_200.0}, "lateness_us": {"p99": 12_000}}}]));
        let f = findings(&r);
        assert_eq!(
            f,
            [
                "ITL mean matched the configured 10.0 ms interval within 5% for WebSocket \
                 10.2 ms.",
                "WebSocket fell behind its schedule: its lateness p99 was 12.0 ms, more than \
                 one 10.0 ms interval (1.20× it)."
            ]
        );
    }
}
