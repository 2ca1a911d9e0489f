//! Runs of one workload over different transports compared: HTTP/1.1 or HTTP/2, cleartext or
//! TLS (`h1`, `h1+tls`, `h2c`, `h2+tls`), read from each run's manifest
//! (`params.transport.http` and `.tls`; a run without them is HTTP/1.1 cleartext, as every
//! run was before they existed). For each technique measured over two transports that differ
//! in one thing (the HTTP version, or TLS), [`changes`] says what that one thing changed, from
//! the runs' own numbers (WebSocket, which upgrades over HTTP/1.1 in every run, only for TLS): bytes and requests per delivered message, p50 and p99, server CPU per
//! 10⁶ deliveries and server memory per client.

use crate::model::{Figures, Run, TechniqueSummary};
use crate::servers;

/// The four transports, in the order the report shows them.
pub const ORDER: [&str; 4] = ["h1", "h1+tls", "h2c", "h2+tls"];

/// The transport a run measured: `h1`, `h1+tls`, `h2c` or `h2+tls`.
pub fn label(run: &Run) -> &'static str {
    let t = run.manifest.params.get("transport");
    let h2 = t
        .and_then(|t| t.get("http"))
        .and_then(|v| v.as_str())
        .is_some_and(|v| v == "2");
    let tls = t
        .and_then(|t| t.get("tls"))
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    match (h2, tls) {
        (false, false) => "h1",
        (false, true) => "h1+tls",
        (true, false) => "h2c",
        (true, true) => "h2+tls",
    }
}

/// Whether the runs span more than one transport (the report's section is shown then).
pub fn compared(runs: &[Run]) -> bool {
    let first = runs.first().map(label);
    runs.iter().any(|r| Some(label(r)) != first)
}

/// One technique over one transport: the figures the comparison shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub technique: String,
    pub transport: &'static str,
    /// The run's label.
    pub run: String,
    pub delivered_ratio: Option<f64>,
    pub bytes_per_msg: Option<f64>,
    pub requests_per_msg: Option<f64>,
    pub p50_us: Option<u64>,
    pub p99_us: Option<u64>,
    pub cpu_s_per_1m: Option<f64>,
    pub memory_per_client: Option<f64>,
}

impl Row {
    fn of(run: &Run, t: &TechniqueSummary) -> Row {
        Row {
            technique: t.technique.name().to_string(),
            transport: label(run),
            run: run.label.clone(),
            delivered_ratio: t.delivered_ratio(),
            bytes_per_msg: servers::bytes_per_msg(t),
            requests_per_msg: t.requests_per_msg(),
            p50_us: t.latency_us.p50,
            p99_us: t.latency_us.p99,
            cpu_s_per_1m: servers::cpu_s_per_1m(t),
            memory_per_client: servers::memory_per_conn(t).map(|(v, _)| v),
        }
    }
}

/// Every measured technique of every run, by technique then transport (the first run of a
/// transport where several measured it).
pub fn rows(runs: &[Run]) -> Vec<Row> {
    let mut out: Vec<Row> = Vec::new();
    for run in runs {
        for t in run.techniques.iter().filter(|t| t.failure.is_none()) {
            let row = Row::of(run, t);
            if !out
                .iter()
                .any(|r| r.technique == row.technique && r.transport == row.transport)
            {
                out.push(row);
            }
        }
    }
    let rank = |r: &Row| {
        (
            crate::colors::order_key(&r.technique),
            ORDER.iter().position(|t| *t == r.transport),
        )
    };
    out.sort_by_key(|r| rank(r));
    out
}

/// The pairs compared: each changes one thing.
const PAIRS: [(&str, &str, &str); 4] = [
    ("h1", "h2c", "HTTP/2"),
    ("h1+tls", "h2+tls", "HTTP/2 (under TLS)"),
    ("h1", "h1+tls", "TLS"),
    ("h2c", "h2+tls", "TLS (over HTTP/2)"),
];

/// What one thing changed for one technique, in words, from the two rows' numbers.
pub fn changes(rows: &[Row]) -> Vec<String> {
    let mut out = Vec::new();
    for (from, to, what) in PAIRS {
        // WebSocket upgrades over HTTP/1.1 whatever the run's HTTP version: only TLS changes it.
        let http2 = what.starts_with("HTTP/2");
        for a in rows
            .iter()
            .filter(|r| r.transport == from && !(http2 && r.technique == "ws"))
        {
            let Some(b) = rows
                .iter()
                .find(|r| r.transport == to && r.technique == a.technique)
            else {
                continue;
            };
            let parts: Vec<String> = [
                change("bytes per message", a.bytes_per_msg, b.bytes_per_msg, bytes),
                // A stream's one request per connection is not worth a word.
                change(
                    "requests per message",
                    a.requests_per_msg.filter(|v| *v >= 0.005),
                    b.requests_per_msg.filter(|v| *v >= 0.005),
                    |v| format!("{v:.2}"),
                ),
                change("p50", us(a.p50_us), us(b.p50_us), ms),
                change("p99", us(a.p99_us), us(b.p99_us), ms),
                change(
                    "server CPU per 10⁶ deliveries",
                    a.cpu_s_per_1m,
                    b.cpu_s_per_1m,
                    |v| format!("{v:.1} s"),
                ),
                change(
                    "server memory per client",
                    a.memory_per_client,
                    b.memory_per_client,
                    bytes,
                ),
            ]
            .into_iter()
            .flatten()
            .collect();
            if parts.is_empty() {
                continue;
            }
            out.push(format!(
                "{} ({from} → {to}): {what} {}.",
                crate::colors::display_name(&a.technique),
                parts.join("; ")
            ));
        }
    }
    out
}

fn us(v: Option<u64>) -> Option<f64> {
    v.map(|v| v as f64)
}

fn ms(us: f64) -> String {
    crate::fmt::latency_us(us)
}

fn bytes(v: f64) -> String {
    crate::fmt::bytes(v)
}

/// `what a → b (±n%)`, with a word for the direction: `cut`, `raised`, or `left` when within
/// 5%. None when either side is unknown.
fn change(
    what: &str,
    a: Option<f64>,
    b: Option<f64>,
    show: impl Fn(f64) -> String,
) -> Option<String> {
    let (a, b) = (a?, b?);
    if !(a.is_finite() && b.is_finite()) {
        return None;
    }
    let (verb, pct) = if a == 0.0 && b == 0.0 {
        ("left", String::new())
    } else if a == 0.0 {
        ("raised", String::new())
    } else {
        let r = (b - a) / a;
        let verb = if r <= -0.05 {
            "cut"
        } else if r >= 0.05 {
            "raised"
        } else {
            "left"
        };
        (verb, format!(" ({:+.0}%)", r * 100.0))
    };
    Some(format!("{verb} {what}: {} → {}{pct}", show(a), show(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(label: &str, http: &str, tls: bool, bytes_down: u64, cpu: f64) -> Run {
        let mut r = Run::for_test(serde_json::json!([{
            "technique": "sse", "clients": 10, "delivered": 1000, "expected": 1000,
            "requests": 10, "bytes_up": 1000, "bytes_down": bytes_down,
            "latency_us": {"p50": 1000, "p99": 4000},
            "server_cpu_s": cpu, "server_rss_bytes": 2_000_000, "server_rss_idle_bytes": 1_000_000,
        }]));
        r.label = label.into();
        r.manifest.params.insert(
            "transport".into(),
            serde_json::json!({"http": http, "tls": tls}),
        );
        r
    }

    #[test]
    fn labels_come_from_the_manifest_and_default_to_http1_cleartext() {
        let mut r = run("a", "2", true, 1, 1.0);
        assert_eq!(label(&r), "h2+tls");
        r.manifest.params.clear();
        assert_eq!(label(&r), "h1");
    }

    #[test]
    fn says_what_one_change_did_from_the_numbers() {
        let runs = [
            run("a", "1.1", false, 300_000, 0.010),
            run("b", "2", false, 200_000, 0.0102),
        ];
        assert!(compared(&runs));
        assert!(!compared(&runs[..1]));
        let rows = rows(&runs);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].bytes_per_msg, Some(201.0));
        let said = changes(&rows);
        assert_eq!(said.len(), 1, "{said:?}");
        let s = &said[0];
        assert!(
            s.contains("(h1 → h2c): HTTP/2 cut bytes per message"),
            "{s}"
        );
        assert!(s.contains("(-33%)"), "{s}");
        assert!(
            s.contains("left server CPU per 10⁶ deliveries: 10.0 s → 10.2 s (+2%)"),
            "{s}"
        );
    }
}
