//! The page's "Servers compared" section (comparison mode only): one row per technique per
//! run, naming each run's server, with the figures that compare servers ([`crate::servers`]).
//! Unknown server figures read "not measured"; a technique a run skipped gives its reason.

use std::fmt::Write as _;

use super::text::{esc, swatch};
use crate::fmt;
use crate::model::{Figures, TechniqueSummary};
use crate::repeat;
use crate::servers::{self, Basis, Entry};

const NOT_MEASURED: &str = "not measured";

const COLUMNS: [&str; 7] = [
    "deliveries/s",
    "delivered / expected",
    "p50",
    "p99",
    "server CPU-s per 1M deliveries",
    "server memory per connection",
    "bytes per message (client, both ways)",
];

fn cells(t: &TechniqueSummary) -> Vec<String> {
    let lat = |v: Option<u64>, fig: &str| {
        let shown = fmt::opt(v.map(|v| v as f64), fmt::latency_us);
        repeat::cell(t, fig, shown, fmt::latency_us)
    };
    let cpu = match servers::cpu_s_per_1m(t) {
        Some(v) => repeat::cell(t, repeat::CPU_PER_1M, fmt::sig(v), fmt::sig),
        None => NOT_MEASURED.into(),
    };
    let memory = match servers::memory_per_conn(t) {
        Some((v, Basis::Growth)) => {
            repeat::cell(t, repeat::RSS_PER_CLIENT, fmt::bytes(v), fmt::bytes)
        }
        Some((v, Basis::Peak)) => {
            format!("{} (peak RSS / clients; idle RSS unknown)", fmt::bytes(v))
        }
        None => NOT_MEASURED.into(),
    };
    vec![
        fmt::opt(t.delivered_per_s(), fmt::sig),
        match (t.delivered, t.expected) {
            (Some(d), Some(e)) => format!(
                "{} / {}{}",
                fmt::count(d),
                fmt::count(e),
                fmt::opt(t.delivered_ratio(), |r| format!(" ({})", fmt::percent(r)))
            ),
            _ => "n/a".into(),
        },
        lat(t.latency_us.p50, repeat::P50),
        lat(t.latency_us.p99, repeat::P99),
        cpu,
        memory,
        repeat::cell(
            t,
            repeat::BYTES_PER_MSG,
            fmt::opt(servers::bytes_per_msg(t), fmt::bytes),
            fmt::bytes,
        ),
    ]
}

/// The section, for several runs (nothing for one).
pub(super) fn section(h: &mut String, runs: &[crate::model::Run]) {
    if runs.len() < 2 {
        return;
    }
    h.push_str("<h2 id=\"servers\">Servers compared</h2>\n");
    h.push_str(
        "<p class=\"sub\">Each technique as each run measured it, with the server that run \
         measured (its profile and target). Server CPU is user + system seconds in the \
         steady-state window per 10⁶ delivered messages; memory per connection is (peak RSS − \
         RSS before the technique connected) / clients, or peak RSS / clients where the idle \
         RSS is unknown (it then includes the server's own base memory). Server figures read \
         <i>not measured</i> for a target with neither <code>/stats</code> nor \
         <code>--server-pid</code>. Also in <code>report/servers.csv</code>.</p>\n",
    );
    h.push_str(
        "<div class=\"scroll\"><table class=\"num servers\">\n<tr><th class=\"l\">technique</th>\
         <th class=\"l\">run</th><th class=\"l\">server</th>",
    );
    for c in COLUMNS {
        let _ = write!(h, "<th>{c}</th>");
    }
    h.push_str("</tr>\n");
    let span = COLUMNS.len();
    for row in servers::rows(runs) {
        let (profile, target) = servers::server(row.run);
        let _ = write!(
            h,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{} @ {}</td>",
            swatch(row.technique),
            esc(&row.run.label),
            esc(&profile),
            esc(&target)
        );
        match row.entry {
            Entry::Measured(t) => {
                for c in cells(t) {
                    let _ = write!(h, "<td>{}</td>", esc(&c));
                }
            }
            Entry::Skipped(why) => {
                let _ = write!(
                    h,
                    "<td class=\"l not-measured\" colspan=\"{span}\">{}</td>",
                    esc(why)
                );
            }
            Entry::NotRun => {
                let _ = write!(
                    h,
                    "<td class=\"l not-measured\" colspan=\"{span}\">not run</td>"
                );
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table></div>\n");
}
