//! Request mode against concurrency ([`crate::request`]): events per second and TTFT p99 at
//! each concurrency, one line per technique in its usual colour, a dot per measurement. Drawn
//! when several request runs are compared (`pushbench report A B C --out OUT`, each run one
//! concurrency) and in a request sweep's report ([`crate::sweep::request`]), from the same
//! points: (technique, concurrency, events/s, TTFT p99 µs). Concurrency is on a log axis when
//! it spans more than a decade.

use std::path::Path;

use plotters::prelude::*;

use super::legend;
use super::{Chart, FONT, TickAxis, canvas, chart_err, linear_ticks, log_ticks, msg};
use crate::colors;
use crate::error::ReportError;
use crate::fmt;
use crate::model::Run;

pub const EVENTS_FILE: &str = "request_events_per_s.png";
pub const TTFT_FILE: &str = "request_ttft_p99.png";
pub const FILES: [&str; 2] = [EVENTS_FILE, TTFT_FILE];

/// One measurement: a technique at a concurrency.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub technique: String,
    pub concurrency: u64,
    pub events_per_s: Option<f64>,
    pub ttft_p99_us: Option<u64>,
}

/// The points of the request runs among `runs` (a technique at the concurrency each run
/// measured it at).
pub fn points(runs: &[Run]) -> Vec<Point> {
    runs.iter()
        .flat_map(|r| &r.techniques)
        .filter_map(|t| {
            Some(Point {
                technique: t.technique.name().to_string(),
                concurrency: crate::request::concurrency(t)?,
                events_per_s: crate::request::events_per_s(t),
                ttft_p99_us: crate::request::ttft(t).and_then(|l| l.p99),
            })
        })
        .collect()
}

/// Whether the runs compared give a line: two request runs or more.
pub fn wanted(runs: &[Run]) -> bool {
    runs.iter().filter(|r| r.is_request()).count() > 1
}

/// Draws both charts of `points` into `dir`; `what` says where the points come from (for the
/// captions: "each run" or "each step").
pub fn draw(points: &[Point], dir: &Path, what: &str) -> Result<Vec<Chart>, ReportError> {
    super::ensure_font().map_err(|message| ReportError::Chart {
        path: dir.to_path_buf(),
        message,
    })?;
    draw_one(
        points,
        &dir.join(EVENTS_FILE),
        (
            "Events per second against concurrency",
            "events received per second",
        ),
        |p| p.events_per_s,
        fmt::tick,
    )?;
    draw_one(
        points,
        &dir.join(TTFT_FILE),
        (
            "TTFT p99 against concurrency",
            "time to first event, p99 (ms)",
        ),
        |p| p.ttft_p99_us.map(|v| v as f64 / 1000.0),
        fmt::tick,
    )?;
    Ok(vec![
        Chart {
            file: EVENTS_FILE.into(),
            title: "Events per second against concurrency".into(),
            caption: format!(
                "Events received per second of the steady-state window at {what}'s \
                 concurrency (streams open at once), one line per technique."
            ),
        },
        Chart {
            file: TTFT_FILE.into(),
            title: "TTFT p99 against concurrency".into(),
            caption: format!(
                "Time to first event, 99th percentile, at {what}'s concurrency: where it \
                 climbs, requests wait for the server."
            ),
        },
    ])
}

fn draw_one(
    points: &[Point],
    path: &Path,
    (title, y_desc): (&str, &str),
    value: fn(&Point) -> Option<f64>,
    tick: fn(f64) -> String,
) -> Result<(), ReportError> {
    let e = chart_err(path);
    let mut names: Vec<String> = points.iter().map(|p| p.technique.clone()).collect();
    names.sort_by_key(|n| colors::order_key(n));
    names.dedup();
    let (lo, hi) = points.iter().fold((u64::MAX, 0u64), |(a, b), p| {
        (a.min(p.concurrency), b.max(p.concurrency))
    });
    let (lo, hi) = if lo > hi {
        (1, 10)
    } else {
        (lo.max(1), hi.max(lo + 1))
    };
    let log = hi as f64 / lo as f64 > 10.0;
    let x = move |c: u64| {
        if log {
            (c.max(1) as f64).log10()
        } else {
            c as f64
        }
    };
    let (x_ticks, x_range) = if log {
        log_ticks(lo as f64, hi as f64)
    } else {
        let (t, top) = linear_ticks(hi as f64 * 1.05);
        (t, (0.0, top))
    };
    let y_max = points.iter().filter_map(value).fold(0.0, f64::max);
    let (y_ticks, y_top) = linear_ticks(y_max * 1.1);
    let entries = legend::techniques(&names);
    let root = canvas(path);
    let body = legend::titled(&root, title).map_err(&e)?;
    let area = legend::split(&body, &entries).map_err(&e)?;
    let mut ctx = ChartBuilder::on(&area)
        .margin(16)
        .margin_right(40)
        .x_label_area_size(70)
        .y_label_area_size(130)
        .build_cartesian_2d(
            TickAxis::new(x_range.0, x_range.1, x_ticks),
            TickAxis::new(0.0, y_top, y_ticks),
        )
        .map_err(msg)
        .map_err(&e)?;
    let x_fmt = move |v: &f64| {
        let c = if log { 10f64.powf(*v) } else { *v };
        fmt::count(c.round() as u64)
    };
    ctx.configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(BLACK.mix(0.12))
        .x_desc(if log {
            "concurrency: streams open at once (log scale)"
        } else {
            "concurrency: streams open at once"
        })
        .y_desc(y_desc)
        .axis_desc_style((FONT, 26))
        .label_style((FONT, 24))
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&|y| tick(*y))
        .draw()
        .map_err(msg)
        .map_err(&e)?;
    let n_lines = names.len() as u32;
    for (i, name) in names.iter().enumerate() {
        let color = colors::color(name);
        // Earlier lines are wider, so a line hidden under a later one shows as its rim.
        let width = 3 + 2 * (n_lines - 1 - i as u32).min(4);
        let mut pts: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| &p.technique == name)
            .filter_map(|p| Some((x(p.concurrency), value(p)?)))
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        ctx.draw_series(LineSeries::new(
            pts.iter().copied(),
            ShapeStyle::from(color).stroke_width(width),
        ))
        .map_err(msg)
        .map_err(&e)?;
        ctx.draw_series(
            pts.iter()
                .map(|p| Circle::new(*p, 3 + width as i32, color.filled())),
        )
        .map_err(msg)
        .map_err(&e)?;
    }
    super::present(&root, path)
}
