//! The page's "HTTP/2 and TLS" section (comparison mode, when the runs span more than one
//! transport): one row per technique per transport with the figures HTTP/2 and TLS move, then
//! what each one change did, in words, from the runs' own numbers ([`crate::transport`]).

use std::fmt::Write as _;

use super::text::{esc, swatch};
use crate::fmt;
use crate::model::Run;
use crate::transport::{self, Row};

const COLUMNS: [&str; 8] = [
    "delivered",
    "bytes per message (client, both ways)",
    "requests per message",
    "p50",
    "p99",
    "server CPU-s per 1M deliveries",
    "server memory per client",
    "run",
];

fn cells(r: &Row) -> [String; 8] {
    let lat = |v: Option<u64>| fmt::opt(v.map(|v| v as f64), fmt::latency_us);
    [
        fmt::opt(r.delivered_ratio, fmt::percent),
        fmt::opt(r.bytes_per_msg, fmt::bytes),
        fmt::opt(r.requests_per_msg, |v| format!("{v:.2}")),
        lat(r.p50_us),
        lat(r.p99_us),
        fmt::opt(r.cpu_s_per_1m, fmt::sig),
        fmt::opt(r.memory_per_client, fmt::bytes),
        r.run.clone(),
    ]
}

/// Under a run's header: its transport, when it is not HTTP/1.1 cleartext, and what that
/// means for its byte counts.
pub(super) fn run_line(h: &mut String, run: &Run, compare: bool) {
    let t = transport::label(run);
    if t == "h1" {
        return;
    }
    let tls = if t.ends_with("tls") {
        " Bytes are counted at the socket: under TLS they are the TLS records on the wire \
         (handshakes, record headers and MACs included), not the HTTP bytes inside."
    } else {
        ""
    };
    let _ = writeln!(
        h,
        "<p class=\"sub transport\">{}Transport: <code>{}</code> (poll, long poll, stream and \
         SSE; WebSocket upgrades over HTTP/1.1{}).{tls}</p>",
        if compare {
            format!("{}: ", esc(&run.label))
        } else {
            String::new()
        },
        esc(t),
        if t.ends_with("tls") {
            ", under TLS"
        } else {
            ""
        },
    );
}

/// The section (nothing unless the runs span two transports or more).
pub(super) fn section(h: &mut String, runs: &[Run]) {
    if !transport::compared(runs) {
        return;
    }
    h.push_str("<h2 id=\"transport\">HTTP/2 and TLS</h2>\n");
    h.push_str(
        "<p class=\"sub\">Each technique over each transport the runs measured: HTTP/1.1 \
         (<code>h1</code>) or HTTP/2 (<code>h2c</code> in cleartext with prior knowledge, \
         <code>h2+tls</code> by ALPN), in cleartext or TLS. Bytes are counted at the client's \
         socket, so under TLS they are TLS records on the wire (handshakes, record headers and \
         MACs included). WebSocket always upgrades over HTTP/1.1. Server CPU is per 10⁶ \
         delivered messages; memory per client is (peak RSS − RSS before the technique \
         connected) / clients.</p>\n",
    );
    h.push_str(
        "<div class=\"scroll\"><table class=\"num transport\">\n<tr><th class=\"l\">technique\
         </th><th class=\"l\">transport</th>",
    );
    for c in COLUMNS {
        let _ = write!(h, "<th>{c}</th>");
    }
    h.push_str("</tr>\n");
    let rows = transport::rows(runs);
    for r in &rows {
        let _ = write!(
            h,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td>",
            swatch(&r.technique),
            esc(r.transport)
        );
        for c in cells(r) {
            let _ = write!(h, "<td>{}</td>", esc(&c));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table></div>\n");
    let said = transport::changes(&rows);
    if !said.is_empty() {
        h.push_str("<h3>What each change did</h3>\n<ul class=\"findings\">\n");
        for s in said {
            let _ = writeln!(h, "<li>{}</li>", esc(&s));
        }
        h.push_str("</ul>\n");
    }
}
