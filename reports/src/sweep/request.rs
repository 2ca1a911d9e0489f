//! A request-mode sweep (`pushbench sweep --mode request`, issue 16): the points of the charts
//! of events/s and TTFT p99 against concurrency ([`crate::charts::concurrency`]).
//!
//! Read leniently, since the sweep's request columns are added to sweep.csv after the others:
//! a row's `ttft_p99_us`, `itl_p99_us` and `events_per_s` when sweep.csv has those columns
//! (concurrency from a `concurrency` column, else `clients`); for a step whose row has
//! neither, its run directory's summary.json (a request technique's `request`), if there is
//! one. A broadcast sweep has no such figure anywhere and gives no point (no chart).

use std::collections::BTreeMap;
use std::path::Path;

use super::SweepDoc;
use crate::charts::concurrency::Point;
use crate::model::TechniqueSummary;

/// The request columns of one sweep.csv row, by (technique, clients) of the step.
type Extra = BTreeMap<(String, u64), Point>;

/// Every point of the sweep in `dir` (empty for a broadcast sweep).
pub fn points(dir: &Path, doc: &SweepDoc) -> Vec<Point> {
    let from_csv = csv_points(&dir.join("sweep.csv"));
    doc.steps
        .iter()
        .filter_map(|s| {
            if let Some(p) = from_csv.get(&(s.technique.clone(), s.clients)) {
                return Some(p.clone());
            }
            step_point(&dir.join(&s.run_dir), &s.technique, s.clients)
        })
        .collect()
}

/// The request columns of sweep.csv, where it has them (nothing when it has none, or cannot
/// be read: the steps' run directories are the fallback).
fn csv_points(path: &Path) -> Extra {
    let mut out = Extra::new();
    let Ok(mut r) = csv::Reader::from_path(path) else {
        return out;
    };
    let Ok(headers) = r.headers().cloned() else {
        return out;
    };
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (Some(tech), Some(clients)) = (col("technique"), col("clients")) else {
        return out;
    };
    let (conc, eps, ttft) = (col("concurrency"), col("events_per_s"), col("ttft_p99_us"));
    if eps.is_none() && ttft.is_none() {
        return out;
    }
    for rec in r.records().map_while(Result::ok) {
        let get = |i: Option<usize>| i.and_then(|i| rec.get(i)).filter(|v| !v.is_empty());
        let (Some(t), Some(c)) = (get(Some(tech)), get(Some(clients))) else {
            continue;
        };
        let Ok(c) = c.parse::<u64>() else { continue };
        let events_per_s = get(eps).and_then(|v| v.parse::<f64>().ok());
        let ttft_p99_us = get(ttft)
            .and_then(|v| v.parse::<f64>().ok())
            .map(|v| v as u64);
        if events_per_s.is_none() && ttft_p99_us.is_none() {
            continue;
        }
        let concurrency = get(conc).and_then(|v| v.parse().ok()).unwrap_or(c);
        out.insert(
            (t.to_string(), c),
            Point {
                technique: t.to_string(),
                concurrency,
                events_per_s,
                ttft_p99_us,
            },
        );
    }
    out
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
