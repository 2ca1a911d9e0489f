//! Chart 6 (runs with faults only): what a cut connection cost each technique, in three panels,
//! one bar per recovery behaviour in each technique's group ([`crate::recovery::series`]):
//! messages lost per 1,000 cuts (top), messages received twice per 1,000 cuts (middle) and the
//! 99th percentile of the time from a cut to that client's next message (bottom). Resuming bars are in the technique's colour, other
//! behaviours lighter, each value prefixed with the behaviour's initial (R, C).

use std::path::Path;

use plotters::style::RGBColor;

use super::bars::{self, Bar, BarChart, Segment};
use super::legend::{self, Mark};
use super::{Chart, canvas, chart_err, out};
use crate::colors;
use crate::error::ReportError;
use crate::fmt;
use crate::model::Run;
use crate::recovery::{self, Row, Series};

pub const FILE: &str = "recovery.png";

/// A technique's colour as a behaviour's bars show it: full for resuming, lighter otherwise.
fn shade(technique: &str, behaviour: &str) -> RGBColor {
    let c = colors::color(technique);
    match behaviour {
        "resuming" => c,
        "classic" => colors::tint(c, 0.5),
        _ => colors::tint(c, 0.3),
    }
}

/// The techniques with fault figures, in canonical order.
fn groups(rows: &[Row]) -> Vec<String> {
    let mut names: Vec<String> = rows.iter().map(|r| r.name().to_string()).collect();
    names.sort_by_key(|n| colors::order_key(n));
    names.dedup();
    names
}

/// One panel's figure of a row (Err: why there is no bar), and its value's label.
type Figure = fn(&Row) -> Result<f64, &'static str>;
type Label<'a> = &'a dyn Fn(f64) -> String;

fn bars_of(
    rows: &[Row],
    groups: &[String],
    series: &[Series],
    value: impl Fn(&Row) -> Result<f64, &'static str>,
    label: impl Fn(f64) -> String,
) -> Vec<Bar> {
    let mut out = Vec::new();
    for (g, name) in groups.iter().enumerate() {
        for (r, s) in series.iter().enumerate() {
            let row = rows
                .iter()
                .find(|row| std::ptr::eq(row.run, s.run) && row.name() == name);
            let (segments, text) = match row.map(&value) {
                Some(Ok(v)) => (
                    vec![Segment {
                        value: v,
                        color: shade(name, &s.behaviour),
                    }],
                    label(v),
                ),
                Some(Err(why)) => (Vec::new(), why.to_string()),
                None => (Vec::new(), "not run".into()),
            };
            // The tag on the value's line, not above it: two lines of text would not fit
            // under the panel's title above the tallest bar.
            out.push(Bar {
                group: g,
                run: r,
                segments,
                label: format!("{} {text}", s.tag),
                tag: None,
                whisker: None,
            });
        }
    }
    out
}

fn loss(row: &Row) -> Result<f64, &'static str> {
    match (row.cuts(), row.lost_per_1000_cuts()) {
        (Some(0), _) => Err("no cuts"),
        (_, Some(v)) => Ok(v),
        _ => Err("n/a"),
    }
}

/// Messages received twice per 1,000 cuts (what a reconnect without a cursor costs on a
/// server that replays what it retains).
fn duplicates(row: &Row) -> Result<f64, &'static str> {
    match (row.cuts(), row.technique.duplicates) {
        (Some(0), _) => Err("no cuts"),
        (Some(c), Some(d)) => Ok((d as f64 * 10_000.0 / c as f64).round() / 10.0),
        _ => Err("n/a"),
    }
}

fn recovery_p99(row: &Row) -> Result<f64, &'static str> {
    row.recovery_ms().1.ok_or("n/a")
}

pub fn draw(runs: &[Run], dir: &Path) -> Result<Chart, ReportError> {
    let path = out(dir, FILE);
    let rows = recovery::rows(runs);
    let series = recovery::series(runs);
    let groups = groups(&rows);
    let title = "Recovery after cut connections".to_string();
    let root = canvas(&path);
    let body = legend::titled(&root, &title).map_err(chart_err(&path))?;
    let mut entries = legend::techniques(&groups);
    entries.extend(
        series
            .iter()
            .map(|s| (Mark::Tag(s.tag.clone()), s.label.clone())),
    );
    let plot = legend::split(&body, &entries).map_err(chart_err(&path))?;
    let panels = plot.split_evenly((3, 1));
    let per_1000 = crate::claims::recovery::per_1000;
    let ms = |v: f64| fmt::latency_us(v * 1000.0);
    let specs: [(&str, &str, Figure, Label); 3] = [
        (
            "messages lost per 1,000 cut connections",
            "lost per 1,000 cuts",
            loss,
            &per_1000,
        ),
        (
            "messages received twice per 1,000 cut connections",
            "duplicates per 1,000 cuts",
            duplicates,
            &per_1000,
        ),
        (
            "time from a cut to the next message, 99th percentile",
            "recovery time p99 (ms)",
            recovery_p99,
            &ms,
        ),
    ];
    for (area, (title, y_desc, figure, label)) in panels.iter().zip(specs) {
        let chart = BarChart {
            title: Some(title),
            y_desc,
            groups: &groups,
            runs: series.len(),
            log_y: false,
            bars: bars_of(&rows, &groups, &series, figure, label),
            hline: None,
            y_fmt: &fmt::tick,
        };
        bars::draw(area, &chart).map_err(chart_err(&path))?;
    }
    super::present(&root, &path)?;
    Ok(Chart {
        file: FILE.into(),
        title: "Recovery".into(),
        caption: "Top: messages each technique lost in the steady-state window per 1,000 \
                  connections the faults cut (drops and idle cuts). Middle: messages received twice \
                  per 1,000 cuts (a reconnect without a cursor replays what the server \
                  retains). Bottom: the 99th \
                  percentile of the time from a cut to that client's next delivered message. \
                  One bar per recovery behaviour (R = resuming, in the technique's colour; \
                  C = classic, lighter)."
            .into(),
    })
}
