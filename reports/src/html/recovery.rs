//! The page's "Recovery" section (runs with faults only): one row per technique per run's
//! recovery behaviour ([`crate::recovery::rows`]), with what the cuts cost, how long clients
//! took to come back and, with `stall-reader`, the stalled readers against the others. And
//! the recovery claims' table ([`crate::claims::recovery`]), shown under the usual claims.

use std::fmt::Write as _;

use super::tables::verdict_class;
use super::text::{esc, swatch};
use crate::claims::recovery::{self as claims, per_1000};
use crate::fmt;
use crate::model::Run;
use crate::recovery::{self, Row};

const COLUMNS: [&str; 12] = [
    "fault",
    "recovery",
    "cuts",
    "lost",
    "lost per 1,000 cuts",
    "duplicates",
    "out of order",
    "reconnects",
    "recovery time p50",
    "recovery time p99",
    "gaps announced",
    "server restarts",
];

const STALL_COLUMNS: [&str; 3] = [
    "stalled readers",
    "lost: stalled / others",
    "p99: stalled / others",
];

fn count(v: Option<u64>) -> String {
    fmt::opt(v, fmt::count)
}

fn ms(v: Option<f64>) -> String {
    fmt::opt(v, |v| fmt::latency_us(v * 1000.0))
}

fn cells(row: &Row) -> Vec<String> {
    let (f, t) = (row.fault, row.technique);
    let cuts = match (row.cuts(), f.idle_cuts) {
        (Some(n), Some(idle)) if idle > 0 => {
            format!("{} ({} idle)", fmt::count(n), fmt::count(idle))
        }
        (n, _) => count(n),
    };
    let (p50, p99) = row.recovery_ms();
    vec![
        row.spec(),
        row.behaviour(),
        cuts,
        count(t.lost),
        match (row.cuts(), row.lost_per_1000_cuts()) {
            (Some(0), _) => "no cuts".into(),
            (_, v) => fmt::opt(v, per_1000),
        },
        count(t.duplicates),
        count(t.out_of_order),
        count(t.reconnects),
        ms(p50),
        ms(p99),
        count(f.gaps),
        count(f.server_restarts),
    ]
}

fn stall_cells(row: &Row) -> Vec<String> {
    let f = row.fault;
    if !row.has_stall() {
        return vec!["none".into(), String::new(), String::new()];
    }
    let lat = |v: Option<u64>| fmt::opt(v, |v| fmt::latency_us(v as f64));
    vec![
        match f.stall_s {
            Some(s) => format!("{} for {} s", count(f.stalled_clients), fmt::sig(s)),
            None => count(f.stalled_clients),
        },
        format!("{} / {}", count(f.stalled_lost), count(f.others_lost)),
        format!(
            "{} / {}",
            lat(f.stalled_latency_p99_us),
            lat(f.others_latency_p99_us)
        ),
    ]
}

/// The section, when any run had faults (nothing otherwise).
pub(super) fn section(h: &mut String, runs: &[Run]) {
    if !recovery::any(runs) {
        return;
    }
    let rows = recovery::rows(runs);
    let stall = rows.iter().any(Row::has_stall);
    h.push_str("<h2 id=\"recovery\">Recovery</h2>\n");
    h.push_str(
        "<p class=\"sub\">What the injected faults (<code>--fault</code>) cost each technique, \
         one row per technique and recovery behaviour (<code>--recovery</code>: \
         <i>resuming</i> resumes from the client's cursor, <i>classic</i> is the usual \
         browser code). Cuts are the connections the harness reset plus those an idle \
         intermediary closed; lost, duplicates, out of order and reconnects are the \
         technique's steady-state counts. Recovery time runs from a cut to that client's \
         next delivered message. Also in <code>report/recovery.csv</code>; the claims are \
         judged <a href=\"#recovery-claims\">under the usual claims</a>.</p>\n",
    );
    h.push_str(
        "<div class=\"scroll\"><table class=\"num recovery\">\n<tr><th class=\"l\">technique</th>\
         <th class=\"l\">run</th>",
    );
    let stall_columns: &[&str] = if stall { &STALL_COLUMNS } else { &[] };
    for c in COLUMNS.iter().chain(stall_columns) {
        let _ = write!(h, "<th>{c}</th>");
    }
    h.push_str("</tr>\n");
    for row in &rows {
        let _ = write!(
            h,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td>",
            swatch(row.name()),
            esc(&row.run.label)
        );
        let mut all = cells(row);
        if stall {
            all.extend(stall_cells(row));
        }
        for c in all {
            let _ = write!(h, "<td>{}</td>", esc(&c));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table></div>\n");
}

/// The recovery claims' table, when any run had faults (nothing otherwise).
pub(super) fn claims_table(h: &mut String, runs: &[Run]) {
    let checked = claims::check(runs);
    if checked.is_empty() {
        return;
    }
    h.push_str(
        "<h3 id=\"recovery-claims\">Recovery from faults</h3>\n<p class=\"sub\">Judged over \
         all the runs given, from the <a href=\"#recovery\">Recovery</a> table.</p>\n",
    );
    h.push_str(
        "<table class=\"recovery-claims\">\n<tr><th class=\"l\">claim</th>\
         <th class=\"l\">verdict</th><th class=\"l\">the figure that decided it</th>\
         <th class=\"l\">rule</th></tr>\n",
    );
    for c in &checked {
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td class=\"l {}\">{}</td><td class=\"l\">{}</td>\
             <td class=\"l\">{}</td></tr>",
            esc(&c.claim),
            verdict_class(c.verdict),
            c.verdict.as_str(),
            esc(&c.figure),
            esc(c.rule)
        );
    }
    h.push_str("</table>\n");
}
