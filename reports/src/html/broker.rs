//! The page's "Broker" section (runs made with `pushbench run --broker redis|nats`): per
//! technique the child broker's kind, CPU, memory, messages and restarts, and the server's view
//! of it (disconnects, gaps, backfilled, refused). Nothing when no technique had a broker.

use std::fmt::Write as _;

use super::text::{esc, swatch};
use crate::fmt;
use crate::model::Run;

const COLUMNS: [&str; 12] = [
    "broker",
    "CPU-s",
    "CPU-s per 1M deliveries",
    "peak RSS",
    "messages in/s",
    "messages out/s",
    "restarts",
    "disconnects",
    "gaps",
    "backfilled",
    "refused",
    "run",
];

/// Whether any technique of the runs had a broker.
pub fn any(runs: &[Run]) -> bool {
    runs.iter()
        .flat_map(|r| &r.techniques)
        .any(|t| t.broker.is_some())
}

/// The section (nothing unless a technique had a broker).
pub(super) fn section(h: &mut String, runs: &[Run]) {
    if !any(runs) {
        return;
    }
    h.push_str("<h2 id=\"broker\">Broker</h2>\n");
    h.push_str(
        "<p class=\"sub\">The server instances shared their topics over a broker that ran as a \
         child process of the run. Its CPU and memory are its own: they are <b>not</b> in the \
         server's CPU and memory above, so the cost of a message is the server's plus the \
         broker's. Messages in are publishes; messages out are the copies sent to the server \
         instances (one per instance). Disconnects, gaps, backfilled and refused are the \
         server's view of the broker at the technique's end (<code>/stats</code>).</p>\n",
    );
    h.push_str(
        "<div class=\"scroll\"><table class=\"num broker\">\n<tr><th class=\"l\">technique</th>",
    );
    for c in COLUMNS {
        let _ = write!(h, "<th>{c}</th>");
    }
    h.push_str("</tr>\n");
    for run in runs {
        for t in &run.techniques {
            let Some(b) = &t.broker else {
                continue;
            };
            let st = |f: fn(&contract::stats::BrokerStatus) -> u64| {
                b.status
                    .as_ref()
                    .map(|s| f(s).to_string())
                    .unwrap_or_else(|| "n/a".into())
            };
            let cells = [
                b.kind.clone(),
                fmt::opt(b.cpu_s, fmt::sig),
                fmt::opt(b.cpu_s_per_million_deliveries, fmt::sig),
                fmt::opt(b.rss_peak_bytes.map(|v| v as f64), fmt::bytes),
                fmt::opt(b.in_msgs_per_s, fmt::sig),
                fmt::opt(b.out_msgs_per_s, fmt::sig),
                b.restarts.to_string(),
                st(|s| s.disconnects),
                st(|s| s.gaps),
                st(|s| s.backfilled),
                st(|s| s.refused),
                run.label.clone(),
            ];
            let _ = write!(h, "<tr><td class=\"l\">{}</td>", swatch(t.technique.name()));
            for c in cells {
                let _ = write!(h, "<td>{}</td>", esc(&c));
            }
            h.push_str("</tr>\n");
        }
    }
    h.push_str("</table></div>\n");
}
