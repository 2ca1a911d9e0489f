//! "Recovery": what injected faults (`pushbench run --fault drop=5s --recovery resuming|classic`,
//! docs/FAULTS.md) cost each technique, from the `fault` entry of summary.json
//! ([`FaultSummary`]). One [`Row`] per run and technique that has one, sorted by technique,
//! then recovery behaviour (`resuming` before `classic`), so that two runs of the same work
//! with either behaviour, given together to `pushbench report`, sit side by side.
//!
//! This module is the one place the report reads those figures: the page's section
//! ([`crate::html`]), `report/recovery.csv` ([`csv()`]), the chart
//! ([`crate::charts::recovery`]) and the claims ([`crate::claims::recovery`]) all take
//! theirs from a [`Row`]. Runs without faults produce none of them.

use contract::run_dir::FaultSummary;

use crate::colors;
use crate::model::{Run, TechniqueSummary};

/// The file name of the table, in the report directory.
pub const RECOVERY_CSV: &str = "recovery.csv";

/// The behaviours in the order rows and bars show them; others follow, by name.
const BEHAVIOURS: [&str; 2] = ["resuming", "classic"];

/// One technique as one run with faults measured it.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    pub run: &'a Run,
    pub technique: &'a TechniqueSummary,
    pub fault: &'a FaultSummary,
}

impl Row<'_> {
    /// The technique's name (`sse`, `ws`, ...).
    pub fn name(&self) -> &str {
        self.technique.technique.name()
    }

    /// How the clients recovered: the entry's `recovery`, else the run's `params.recovery`.
    pub fn behaviour(&self) -> String {
        behaviour(self.run, Some(self.fault))
    }

    /// The fault specs: the entry's `spec`, else the run's `params.fault`.
    pub fn spec(&self) -> String {
        if !self.fault.spec.is_empty() {
            return self.fault.spec.clone();
        }
        param(self.run, "fault").unwrap_or_else(|| "?".into())
    }

    /// Connections cut: drops plus idle cuts; `None` when neither count is known.
    pub fn cuts(&self) -> Option<u64> {
        match (self.fault.cuts, self.fault.idle_cuts) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
        }
    }

    /// The technique's in-window loss per 1,000 cuts, as the run wrote it, else computed from
    /// `lost` and [`Row::cuts`]; `None` without cuts.
    pub fn lost_per_1000_cuts(&self) -> Option<f64> {
        self.fault
            .lost_per_1000_cuts
            .or_else(|| contract::run_dir::fault::per_1000_cuts(self.technique.lost?, self.cuts()?))
    }

    /// Recovery time (cut to next delivered message), median and 99th percentile, ms.
    pub fn recovery_ms(&self) -> (Option<f64>, Option<f64>) {
        let m = self.fault.recovery_ms.as_ref();
        (m.and_then(|m| m.p50), m.and_then(|m| m.p99))
    }

    /// Whether stalled readers were measured (`stall-reader`).
    pub fn has_stall(&self) -> bool {
        self.fault.stalled_clients.is_some_and(|n| n > 0)
    }
}

fn param(run: &Run, key: &str) -> Option<String> {
    run.manifest
        .params
        .get(key)
        .and_then(serde_json::Value::as_str)
        .map(String::from)
}

/// The recovery behaviour of a run (of one of its fault entries when given).
pub fn behaviour(run: &Run, fault: Option<&FaultSummary>) -> String {
    fault
        .map(|f| f.recovery.clone())
        .filter(|r| !r.is_empty())
        .or_else(|| param(run, "recovery"))
        .unwrap_or_else(|| "?".into())
}

/// Sort key of a behaviour: `resuming`, `classic`, then the others by name.
pub fn behaviour_key(b: &str) -> (usize, String) {
    let i = BEHAVIOURS
        .iter()
        .position(|k| *k == b)
        .unwrap_or(BEHAVIOURS.len());
    (i, b.to_string())
}

/// Whether any technique of any run has fault figures (else the report shows no recovery).
pub fn any(runs: &[Run]) -> bool {
    runs.iter()
        .any(|r| r.techniques.iter().any(|t| t.fault.is_some()))
}

/// Every technique with fault figures, by technique, then behaviour, then run order.
pub fn rows(runs: &[Run]) -> Vec<Row<'_>> {
    let mut rows: Vec<(usize, Row)> = runs
        .iter()
        .enumerate()
        .flat_map(|(i, run)| {
            run.techniques.iter().filter_map(move |t| {
                let fault = t.fault.as_ref()?;
                Some((
                    i,
                    Row {
                        run,
                        technique: t,
                        fault,
                    },
                ))
            })
        })
        .collect();
    rows.sort_by_cached_key(|(i, r)| {
        (
            colors::order_key(r.name()),
            behaviour_key(&r.behaviour()),
            *i,
        )
    });
    rows.into_iter().map(|(_, r)| r).collect()
}

/// The runs with fault figures, each with its behaviour, ordered by behaviour then input
/// order: the series of the chart and of the claims. `tag` names a series on the chart: the
/// behaviour's initial (`R`, `C`), with a number when a behaviour has several runs (`C2`).
#[derive(Debug, Clone)]
pub struct Series<'a> {
    pub run: &'a Run,
    pub behaviour: String,
    pub tag: String,
    /// The behaviour, with the run's label when another run has the same behaviour.
    pub label: String,
}

/// The [`Series`] of `runs`.
pub fn series(runs: &[Run]) -> Vec<Series<'_>> {
    let mut with: Vec<(usize, &Run, String)> = runs
        .iter()
        .enumerate()
        .filter(|(_, r)| r.techniques.iter().any(|t| t.fault.is_some()))
        .map(|(i, r)| {
            let f = r.techniques.iter().find_map(|t| t.fault.as_ref());
            (i, r, behaviour(r, f))
        })
        .collect();
    with.sort_by_key(|(i, _, b)| (behaviour_key(b), *i));
    let mut out: Vec<Series> = Vec::new();
    for (_, run, b) in &with {
        let same = with.iter().filter(|(_, _, o)| o == b).count();
        let nth = out.iter().filter(|s| &s.behaviour == b).count() + 1;
        let initial: String = b.chars().next().unwrap_or('?').to_uppercase().collect();
        out.push(Series {
            run,
            behaviour: b.clone(),
            tag: if nth == 1 {
                initial
            } else {
                format!("{initial}{nth}")
            },
            label: if same > 1 {
                format!("{b} ({})", run.label)
            } else {
                b.clone()
            },
        });
    }
    out
}

/// The header of `recovery.csv` and what each column means (docs/RUN_FORMAT.md).
pub const CSV_COLUMNS: [(&str, &str); 23] = [
    ("run", "the run directory's name"),
    ("technique", "poll, long-poll, stream, sse or ws"),
    ("fault", "the --fault specs, canonical"),
    ("recovery", "how the clients recovered: resuming or classic"),
    ("cuts", "connections cut in the window: drops + idle_cuts"),
    ("drops", "connections the harness reset (drop)"),
    (
        "idle_cuts",
        "connections closed for carrying no byte (idle-cut)",
    ),
    ("lost", "the technique's in-window lost messages"),
    ("lost_per_1000_cuts", "lost per 1,000 cuts"),
    ("duplicates", "messages received again"),
    ("out_of_order", "messages received after a later one"),
    ("reconnects", "connections re-opened after the first"),
    (
        "recovery_p50_ms",
        "cut to that client's next message, median (ms)",
    ),
    ("recovery_p99_ms", "the same, 99th percentile (ms)"),
    ("recoveries", "recovery times measured"),
    (
        "gaps",
        "gap notices the server sent (what was asked for is gone)",
    ),
    ("server_restarts", "times the child server was restarted"),
    (
        "stalled_clients",
        "clients that stopped reading (stall-reader)",
    ),
    ("stall_s", "how long each stopped reading (s)"),
    ("stalled_lost", "messages the stalled clients lost"),
    ("others_lost", "messages the other clients lost"),
    (
        "stalled_latency_p99_us",
        "stalled clients' p99 latency (µs)",
    ),
    ("others_latency_p99_us", "other clients' p99 latency (µs)"),
];

/// `recovery.csv` as bytes: one row per [`rows`], an empty cell for an unknown figure.
pub fn csv(runs: &[Run]) -> Vec<u8> {
    let int = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    let num = |v: Option<f64>| {
        v.map(|v| ((v * 1e6).round() / 1e6).to_string())
            .unwrap_or_default()
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing into a Vec cannot fail; the expects document that.
    w.write_record(CSV_COLUMNS.iter().map(|(c, _)| *c))
        .expect("write to memory");
    for row in rows(runs) {
        let (f, t) = (row.fault, row.technique);
        let (p50, p99) = row.recovery_ms();
        let rec = [
            row.run.label.clone(),
            row.name().to_string(),
            row.spec(),
            row.behaviour(),
            int(row.cuts()),
            int(f.cuts),
            int(f.idle_cuts),
            int(t.lost),
            num(row.lost_per_1000_cuts()),
            int(t.duplicates),
            int(t.out_of_order),
            int(t.reconnects),
            num(p50),
            num(p99),
            int(f.recoveries),
            int(f.gaps),
            int(f.server_restarts),
            int(f.stalled_clients),
            num(f.stall_s),
            int(f.stalled_lost),
            int(f.others_lost),
            int(f.stalled_latency_p99_us),
            int(f.others_latency_p99_us),
        ];
        w.write_record(&rec).expect("write to memory");
    }
    w.into_inner().expect("flush to memory")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::Manifest;

    /// A run with `recovery` in its params and these techniques (summary.json entries).
    pub(crate) fn run(label: &str, recovery: &str, techniques: serde_json::Value) -> Run {
        let manifest: Manifest = serde_json::from_value(serde_json::json!({
            "format": "pushbench-run", "format_version": 1,
            "params": {"fault": "drop=5s", "recovery": recovery}
        }))
        .unwrap();
        Run {
            dir: label.into(),
            label: label.into(),
            manifest,
            techniques: serde_json::from_value(techniques).unwrap(),
            skipped: Vec::new(),
            timeseries: Vec::new(),
            histograms: Default::default(),
            request_histograms: Default::default(),
        }
    }

    /// A technique `t` that lost `lost` over `cuts` drops (`null` fault when `cuts` is None).
    pub(crate) fn entry(t: &str, lost: u64, cuts: Option<u64>) -> serde_json::Value {
        let fault = cuts.map(|c| serde_json::json!({"spec": "", "recovery": "", "cuts": c}));
        serde_json::json!({"technique": t, "lost": lost, "fault": fault})
    }

    #[test]
    fn rows_sort_by_technique_then_behaviour_and_fill_in_from_params() {
        let runs = [
            run(
                "c",
                "classic",
                serde_json::json!([entry("ws", 120, Some(40))]),
            ),
            run(
                "r",
                "resuming",
                serde_json::json!([entry("ws", 0, Some(40)), entry("sse", 0, Some(40))]),
            ),
            run(
                "plain",
                "resuming",
                serde_json::json!([entry("sse", 3, None)]),
            ),
        ];
        let rows = rows(&runs);
        let seen: Vec<(String, String, &str)> = rows
            .iter()
            .map(|r| (r.name().to_string(), r.behaviour(), r.run.label.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                ("sse".into(), "resuming".into(), "r"),
                ("ws".into(), "resuming".into(), "r"),
                ("ws".into(), "classic".into(), "c"),
            ]
        );
        // Spec and behaviour come from the params when the entry leaves them empty; the loss
        // per 1,000 cuts is computed when the entry lacks it.
        assert_eq!(rows[2].spec(), "drop=5s");
        assert_eq!(rows[2].lost_per_1000_cuts(), Some(3000.0));
        let tags = |runs: &[Run]| -> Vec<(String, String)> {
            series(runs).into_iter().map(|s| (s.tag, s.label)).collect()
        };
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        // The run without faults is no series.
        assert_eq!(tags(&runs), [pair("R", "resuming"), pair("C", "classic")]);
        let again = run(
            "r2",
            "resuming",
            serde_json::json!([entry("ws", 0, Some(8))]),
        );
        let more = [runs[0].clone(), runs[1].clone(), again];
        assert_eq!(
            tags(&more),
            [
                pair("R", "resuming (r)"),
                pair("R2", "resuming (r2)"),
                pair("C", "classic")
            ]
        );
    }

    #[test]
    fn stalled_readers_reach_the_csv() {
        let mut t = entry("ws", 5, Some(10));
        t["fault"]["stalled_clients"] = 2.into();
        t["fault"]["stall_s"] = 3.0.into();
        t["fault"]["stalled_lost"] = 5.into();
        t["fault"]["others_lost"] = 0.into();
        let runs = [run("s", "resuming", serde_json::json!([t]))];
        assert!(rows(&runs)[0].has_stall());
        let text = String::from_utf8(csv(&runs)).unwrap();
        let line = text.lines().nth(1).unwrap();
        assert_eq!(line, "s,ws,drop=5s,resuming,10,10,,5,500,,,,,,,,,2,3,5,0,,");
    }
}
