//! "Servers compared": when several runs are compared (`pushbench report DIR1 DIR2 ...`), one
//! row per technique per run, naming the server each run measured (its profile and target),
//! with the figures that compare servers on the same technique: deliveries per second,
//! delivered / expected, p50 / p99, server CPU seconds per 10⁶ deliveries, server memory per
//! connection and client bytes per delivered message. The page shows it ([`crate::html`]) and
//! `report/servers.csv` holds it ([`csv()`]).
//!
//! A server figure the run did not measure (a `--target` with neither `/stats` nor
//! `--server-pid`) is "not measured"; a technique the run skipped (e.g. `not offered by this
//! target`) says so; one the run does not have at all is "not run".

use crate::colors;
use crate::model::{Figures, Run, TechniqueSummary};

/// The file name of the table, in the report directory.
pub const SERVERS_CSV: &str = "servers.csv";

/// What a run holds for one technique.
#[derive(Debug, Clone, Copy)]
pub enum Entry<'a> {
    Measured(&'a TechniqueSummary),
    /// Skipped, with the run's reason.
    Skipped(&'a str),
    NotRun,
}

/// One row: a technique as one run measured it.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    pub run: &'a Run,
    pub technique: &'a str,
    pub entry: Entry<'a>,
}

/// How a memory-per-connection figure was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// (peak RSS − RSS before the technique connected) / clients.
    Growth,
    /// Peak RSS / clients: the idle RSS is unknown, so this includes the server's base memory.
    Peak,
}

impl Basis {
    /// The CSV's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Growth => "peak-minus-idle",
            Basis::Peak => "peak",
        }
    }
}

/// Every technique of any run (measured or skipped), in canonical order, then each run.
pub fn rows(runs: &[Run]) -> Vec<Row<'_>> {
    let mut names: Vec<&str> = runs
        .iter()
        .flat_map(|r| r.techniques.iter().chain(&r.skipped))
        .map(|t| t.technique.name())
        .collect();
    names.sort_by_key(|n| colors::order_key(n));
    names.dedup();
    names
        .into_iter()
        .flat_map(|name| {
            runs.iter().map(move |run| {
                let skipped = run.skipped.iter().find(|t| t.technique.name() == name);
                let entry = match (run.technique(name), skipped) {
                    (Some(t), _) => Entry::Measured(t),
                    (None, Some(s)) => Entry::Skipped(s.skipped.as_deref().unwrap_or("skipped")),
                    (None, None) => Entry::NotRun,
                };
                Row {
                    run,
                    technique: name,
                    entry,
                }
            })
        })
        .collect()
}

/// The server a run measured: its profile (`params.profile`, `pushbench` when absent) and its
/// target (`embedded` or the URL).
pub fn server(run: &Run) -> (String, String) {
    let profile = run
        .manifest
        .params
        .get("profile")
        .and_then(|p| p.as_str())
        .unwrap_or("pushbench")
        .to_string();
    let target = run.manifest.target.clone().unwrap_or_else(|| "?".into());
    (profile, target)
}

/// Server CPU seconds per 10⁶ delivered messages.
pub fn cpu_s_per_1m(t: &TechniqueSummary) -> Option<f64> {
    t.cpu_ms_per_1k_msgs()
}

/// Server memory per connection, bytes, and how it was computed: growth over the idle RSS
/// when that is known, else the peak RSS over the clients.
pub fn memory_per_conn(t: &TechniqueSummary) -> Option<(f64, Basis)> {
    if let Some(v) = t.rss_per_conn() {
        return Some((v, Basis::Growth));
    }
    let clients = t.clients.filter(|c| *c > 0)?;
    Some((t.server_rss_bytes? as f64 / clients as f64, Basis::Peak))
}

/// Client bytes, both directions, per delivered message.
pub fn bytes_per_msg(t: &TechniqueSummary) -> Option<f64> {
    t.bytes_per_msg()
}

/// The header of `servers.csv`.
pub const CSV_COLUMNS: [&str; 14] = [
    "run",
    "technique",
    "profile",
    "target",
    "status",
    "delivered_per_s",
    "delivered",
    "expected",
    "latency_p50_us",
    "latency_p99_us",
    "server_cpu_s_per_1m_deliveries",
    "server_rss_per_conn_bytes",
    "server_rss_per_conn_basis",
    "bytes_per_msg",
];

/// `servers.csv` as bytes: one row per [`rows`], empty cells for unknown figures, `status`
/// `measured`, the run's skip reason, or `not run`.
pub fn csv(runs: &[Run]) -> Vec<u8> {
    let round = |v: Option<f64>| {
        v.map(|v| ((v * 1e6).round() / 1e6).to_string())
            .unwrap_or_default()
    };
    let int = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing into a Vec cannot fail; the expects document that.
    w.write_record(CSV_COLUMNS).expect("write to memory");
    for row in rows(runs) {
        let (profile, target) = server(row.run);
        let mut rec = vec![
            row.run.label.clone(),
            row.technique.to_string(),
            profile,
            target,
        ];
        match row.entry {
            Entry::Measured(t) => {
                let mem = memory_per_conn(t);
                rec.extend([
                    "measured".to_string(),
                    round(t.delivered_per_s()),
                    int(t.delivered),
                    int(t.expected),
                    int(t.latency_us.p50),
                    int(t.latency_us.p99),
                    round(cpu_s_per_1m(t)),
                    round(mem.map(|m| m.0)),
                    mem.map(|m| m.1.as_str().to_string()).unwrap_or_default(),
                    round(bytes_per_msg(t)),
                ]);
            }
            Entry::Skipped(why) => rec.push(why.to_string()),
            Entry::NotRun => rec.push("not run".into()),
        }
        rec.resize(CSV_COLUMNS.len(), String::new());
        w.write_record(&rec).expect("write to memory");
    }
    w.into_inner().expect("flush to memory")
}
