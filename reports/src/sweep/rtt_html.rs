//! The link section of the sweep's page: the table technique × link with measured p50 / p99,
//! the expected p50 and a visible flag where the measurement departs from it (rows from
//! [`super::rtt`]), and the rule the flag follows.

use std::fmt::Write as _;

use super::rtt::{self, RttRow};
use crate::expect::{ALLOWANCE_MS, TOLERANCE};
use crate::fmt;
use crate::html::{esc, swatch};

fn ms(v: f64) -> String {
    format!("{} ms", fmt::sig(v))
}

fn expected_cell(r: &RttRow) -> String {
    match r.expected {
        Some(e) if e.is_range() => format!("{}–{}", fmt::sig(e.lo_ms), ms(e.hi_ms)),
        Some(e) => ms(e.lo_ms),
        None => "n/a".into(),
    }
}

fn flag_cell(r: &RttRow) -> String {
    let dep = r.departure.map(|d| format!("{:+.0}%", d * 100.0));
    match (r.expected, r.p50_ms) {
        (None, _) => "<span class=\"x\">no model (a setting it needs is unknown)</span>".into(),
        (_, None) => "<span class=\"x\">nothing measured</span>".into(),
        _ if r.flagged => format!(
            "<span class=\"missed\">⚑ off the model</span>{}",
            dep.map(|d| format!(" ({d})")).unwrap_or_default()
        ),
        _ => format!(
            "<span class=\"met\">on the model</span>{}",
            dep.filter(|d| d != "+0%" && d != "-0%")
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        ),
    }
}

/// Writes the section's table and the flag's rule into `h`.
pub fn table(h: &mut String, rows: &[RttRow], clients_note: Option<String>) {
    h.push_str(
        "<h2>Latency against the link</h2>\n<table>\n<tr><th class=\"l\">technique</th>\
         <th class=\"l\">link</th><th>RTT</th><th>p50</th><th>p99</th><th>expected p50</th><th>of which loopback floor</th>\
         <th class=\"l\">against the model</th><th>requests per message</th>\
         <th>bytes down per message</th></tr>\n",
    );
    for r in rows {
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td class=\"l\"><code>{}</code></td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td></tr>",
            swatch(&r.technique),
            esc(&rtt::link_name(r)),
            ms(r.rtt_ms),
            fmt::opt(r.p50_ms, ms),
            fmt::opt(r.p99_ms, ms),
            expected_cell(r),
            fmt::opt(r.floor_ms, ms),
            flag_cell(r),
            fmt::opt(r.requests_per_msg, fmt::sig),
            fmt::opt(r.bytes_down_per_msg, fmt::bytes),
        );
    }
    h.push_str("</table>\n");
    let flagged = rows.iter().filter(|r| r.flagged).count();
    let _ = writeln!(
        h,
        "<p class=\"sub\">Expected p50, from the settings, with the publisher next to the \
         server and the subscribers on the link: HTTP stream, SSE and WebSocket RTT/2; short \
         poll RTT/2 + max(interval, RTT)/2 (a range when its clients started too close \
         together for their polls to spread over the publisher's schedule); long poll RTT/2 while messages are further apart \
         than a round trip, RTT when they come faster (the poll is re-armed one round trip \
         after each answer), a range between the two where they are about one round trip \
         apart. Jitter adds half its mean, a narrow link one payload's serialization time; at \
         RTT &gt; 0 each technique's loopback floor (its p50 at RTT 0 above the model: this \
         machine's own processing) is added. \
         <b>⚑ off the model</b>: the measured p50 lies more than {}% plus {} ms outside the \
         expected value (the {} ms keep loopback noise and the emulator's timer rounding from \
         being flagged). {} docs/REPORTS.md derives the formulas. All rows: \
         <a href=\"{}\">{}</a>.</p>",
        (TOLERANCE * 100.0).round(),
        ALLOWANCE_MS,
        ALLOWANCE_MS,
        match flagged {
            0 => "No measurement is off the model.".to_string(),
            n => format!(
                "<b>{} off the model.</b>",
                fmt::plural(n as u64, "measurement")
            ),
        },
        rtt::CSV_FILE,
        rtt::CSV_FILE,
    );
    if let Some(note) = clients_note {
        let _ = writeln!(h, "<p class=\"sub\">{}</p>", esc(&note));
    }
}
