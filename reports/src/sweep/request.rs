//! A request-mode sweep (`pushbench sweep --mode request`, issue 16): the points of the charts
//! of events/s and TTFT p99 against concurrency ([`crate::charts::concurrency`]).
//!
//! A step's point is its sweep.csv row's request columns (`ttft_p99_us`, `events_per_s`; the
//! row's `clients` is the step's concurrency) when it has them; otherwise its run directory's
//! summary.json (a request technique's `request`), if there is one. A broadcast sweep has no
//! such figure anywhere and gives no point (no chart).

use std::path::Path;

use super::SweepDoc;
use crate::charts::concurrency::Point;
use crate::model::TechniqueSummary;

/// Every point of the sweep in `dir` (empty for a broadcast sweep).
pub fn points(dir: &Path, doc: &SweepDoc) -> Vec<Point> {
    doc.steps
        .iter()
        .filter_map(|s| {
            if s.events_per_s.is_some() || s.ttft_p99_us.is_some() {
                return Some(Point {
                    technique: s.technique.clone(),
                    concurrency: s.clients,
                    events_per_s: s.events_per_s,
                    ttft_p99_us: s.ttft_p99_us,
                });
            }
            step_point(&dir.join(&s.run_dir), &s.technique, s.clients)
        })
        .collect()
}

/// A step's point from its run directory's summary.json, if it is a request run.
fn step_point(run_dir: &Path, technique: &str, clients: u64) -> Option<Point> {
    #[derive(serde::Deserialize)]
    struct Doc {
        techniques: Vec<TechniqueSummary>,
    }
    let bytes = std::fs::read(run_dir.join("summary.json")).ok()?;
    let doc: Doc = serde_json::from_slice(&bytes).ok()?;
    let t = doc
        .techniques
        .iter()
        .find(|t| t.technique.name() == technique && t.request.is_some())?;
    Some(Point {
        technique: technique.to_string(),
        concurrency: crate::request::concurrency(t).unwrap_or(clients),
        events_per_s: crate::request::events_per_s(t),
        ttft_p99_us: crate::request::ttft(t).and_then(|l| l.p99),
    })
}
