//! The page's tables: the summary (one row per technique, units in the headers) and the usual
//! claims checked against the run.

use std::fmt::Write as _;

use super::text::{esc, swatch};
use crate::claims::{self, Claim, Verdict};
use crate::fmt;
use crate::model::{Figures, Run, TechniqueSummary};
use crate::repeat;

fn opt_lat(v: Option<f64>) -> String {
    fmt::opt(v, fmt::latency_us)
}

pub(super) fn summary_table(h: &mut String, runs: &[Run]) {
    let compare = runs.len() > 1;
    h.push_str("<div class=\"scroll\"><table class=\"num\">\n<tr>");
    if compare {
        h.push_str("<th class=\"l\">run</th>");
    }
    for col in [
        "technique",
        "clients",
        "delivered / expected",
        "lost",
        "dupli&shy;cates",
        "p50",
        "p99",
        "p99.9",
        "max",
        "requests per msg",
        "bytes per msg, client (down + up)",
        "bytes per msg (server count)",
        "server CPU (ms per 1,000 msgs)",
        "server RSS peak",
        "server RSS per conn",
        "load generator CPU (s)",
        "errors",
    ] {
        let class = if col == "technique" {
            " class=\"l\""
        } else {
            ""
        };
        let _ = write!(h, "<th{class}>{col}</th>");
    }
    h.push_str("</tr>\n");
    for run in runs {
        for t in &run.techniques {
            summary_row(h, run, t, compare);
        }
    }
    h.push_str("</table></div>\n");
}

fn summary_row(h: &mut String, run: &Run, t: &TechniqueSummary, compare: bool) {
    h.push_str("<tr>");
    if compare {
        let _ = write!(h, "<td class=\"l\">{}</td>", esc(&run.label));
    }
    let server_per_msg = match (t.server_bytes_up, t.server_bytes_down, t.delivered) {
        (Some(u), Some(d), Some(n)) if n > 0 => fmt::bytes((u + d) as f64 / n as f64),
        _ => "n/a".into(),
    };
    let errors = if t.errors.is_empty() {
        "0".to_string()
    } else {
        let kinds = t
            .errors
            .iter()
            .filter(|(_, v)| **v > 0)
            .map(|(k, v)| format!("{} {k}", fmt::count(*v)))
            .collect::<Vec<_>>()
            .join(", ");
        if kinds.is_empty() {
            "0".into()
        } else {
            format!("{} ({})", fmt::count(t.errors_total()), kinds)
        }
    };
    let lat = |v: Option<u64>, fig: &str| {
        repeat::cell(t, fig, opt_lat(v.map(|v| v as f64)), fmt::latency_us)
    };
    let cells = [
        fmt::opt(t.clients, fmt::count),
        match (t.delivered, t.expected) {
            (Some(d), Some(e)) => format!(
                "{} / {}{}",
                fmt::count(d),
                fmt::count(e),
                fmt::opt(t.delivered_ratio(), |r| format!(" ({})", fmt::percent(r)))
            ),
            _ => "n/a".into(),
        },
        repeat::cell(t, repeat::LOST, fmt::opt(t.lost, fmt::count), |v| {
            fmt::count(v.round() as u64)
        }),
        fmt::opt(t.duplicates, fmt::count),
        lat(t.latency_us.p50, repeat::P50),
        lat(t.latency_us.p99, repeat::P99),
        lat(t.latency_us.p999, repeat::P999),
        lat(t.latency_us.max, repeat::MAX),
        repeat::cell(
            t,
            repeat::REQUESTS_PER_MSG,
            fmt::opt(t.requests_per_msg(), fmt::sig),
            fmt::sig,
        ),
        match (t.bytes_down_per_msg(), t.bytes_up_per_msg()) {
            (Some(d), Some(u)) => repeat::cell(
                t,
                repeat::BYTES_PER_MSG,
                format!("{} ({:.0} + {:.0})", fmt::bytes(d + u), d, u),
                fmt::bytes,
            ),
            _ => "n/a".into(),
        },
        server_per_msg,
        repeat::cell(
            t,
            repeat::CPU_PER_1M,
            fmt::opt(t.cpu_ms_per_1k_msgs(), fmt::sig),
            fmt::sig,
        ),
        repeat::cell(
            t,
            repeat::SERVER_RSS,
            fmt::opt(t.server_rss_bytes, |b| fmt::bytes(b as f64)),
            fmt::bytes,
        ),
        repeat::cell(
            t,
            repeat::RSS_PER_CLIENT,
            fmt::opt(t.rss_per_conn(), fmt::bytes),
            fmt::bytes,
        ),
        fmt::opt(t.loadgen_cpu_s, fmt::sig),
        errors,
    ];
    let _ = write!(h, "<td class=\"l\">{}</td>", swatch(t.technique.name()));
    for c in cells {
        let _ = write!(h, "<td>{}</td>", esc(&c));
    }
    h.push_str("</tr>\n");
}

pub(super) fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Holds => "holds",
        Verdict::DoesNotHold => "does-not-hold",
        Verdict::NotMeasured => "not-measured",
    }
}

pub(super) fn claims_table(h: &mut String, runs: &[Run]) {
    let runs: Vec<&Run> = runs.iter().collect();
    let checked: Vec<Vec<Claim>> = runs.iter().map(|r| claims::check(r)).collect();
    verdict_table(h, "<table>", &runs, &checked, claims::rules());
}

/// A table of claims (`rules`: each claim and its rule) with a verdict and its deciding figure
/// per run (`checked[run][claim]`), opened by `open` (a `<table ...>` tag).
pub(super) fn verdict_table<'a>(
    h: &mut String,
    open: &str,
    runs: &[&Run],
    checked: &[Vec<Claim>],
    rules: impl Iterator<Item = &'a (&'static str, &'static str)>,
) {
    let compare = runs.len() > 1;
    let _ = write!(h, "{open}\n<tr><th class=\"l\">claim</th>");
    for run in runs {
        let _ = write!(
            h,
            "<th class=\"l\">{}</th><th class=\"l\">the figure that decided it</th>",
            if compare {
                format!("verdict: {}", esc(&run.label))
            } else {
                "verdict".into()
            }
        );
    }
    h.push_str("<th class=\"l\">rule</th></tr>\n");
    for (i, (claim, rule)) in rules.enumerate() {
        let _ = write!(h, "<tr><td class=\"l\">{}</td>", esc(claim));
        for c in checked {
            let c = &c[i];
            let _ = write!(
                h,
                "<td class=\"l {}\">{}</td><td class=\"l\">{}</td>",
                verdict_class(c.verdict),
                c.verdict.as_str(),
                esc(&c.figure)
            );
        }
        let _ = writeln!(h, "<td class=\"l\">{}</td></tr>", esc(rule));
    }
    h.push_str("</table>\n");
}
