//! The sweep's charts: p99 latency, server CPU and server memory against clients, one line per
//! technique in its usual colour ([`crate::colors`]), each technique's knee (the largest client
//! count that met the objective) ringed, steps that missed the objective crossed, and the
//! latency objective drawn as a dashed line. Clients are on a log axis when they span more
//! than a decade. Same size, font and legend strip as the run report's charts. Lines that
//! coincide stay visible: earlier techniques are drawn wider, later ones inside them.

use std::path::Path;

use plotters::prelude::*;

use super::{StepRow, SweepDoc};
use crate::charts::legend::{self, Entry, Mark};
use crate::charts::{
    Chart, FONT, HEIGHT, TickAxis, WIDTH, ensure_font, linear_ticks, log_ticks, msg,
};
use crate::colors;
use crate::error::ReportError;
use crate::fmt;

/// One chart's definition.
pub(super) struct Spec {
    pub file: &'static str,
    pub title: &'static str,
    pub y_desc: &'static str,
    pub caption: &'static str,
    pub value: fn(&StepRow) -> Option<f64>,
    pub tick: fn(f64) -> String,
}

/// What the x axis counts: clients (knees ringed), or server instances in an instance sweep
/// (the step's `clients` then hold its instance count; no knee).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Across {
    Clients,
    Instances,
}

const SPECS: [Spec; 3] = [
    Spec {
        file: "sweep_p99.png",
        title: "p99 latency against clients",
        y_desc: "p99 publish-to-receive latency (ms)",
        caption: "p99 publish-to-receive latency of each step's steady-state window; dashed: \
                  the objective; ringed: each technique's knee; crossed: a step that missed \
                  the objective.",
        value: |s| s.p99_us.map(|v| v as f64 / 1000.0),
        tick: fmt::tick,
    },
    Spec {
        file: "sweep_server_cpu.png",
        title: "Server CPU against clients",
        y_desc: "server CPU (cores busy)",
        caption: "Server CPU seconds per second of the window (user + system); ringed: each \
                  technique's knee.",
        value: |s| s.server_cores,
        tick: fmt::tick,
    },
    Spec {
        file: "sweep_server_memory.png",
        title: "Server memory against clients",
        y_desc: "server resident memory (MiB)",
        caption: "Highest server resident memory during the window; ringed: each technique's \
                  knee.",
        value: |s| s.server_rss_bytes.map(|b| b as f64 / (1024.0 * 1024.0)),
        tick: fmt::tick,
    },
];

/// Draws the three charts into `dir`.
pub fn draw_all(doc: &SweepDoc, dir: &Path) -> Result<Vec<Chart>, ReportError> {
    ensure_font().map_err(|message| ReportError::Chart {
        path: dir.to_path_buf(),
        message,
    })?;
    SPECS
        .iter()
        .map(|s| draw(doc, dir, s, Across::Clients))
        .collect()
}

/// The x axis: log10 of clients when they span more than a decade, else clients.
struct XAxis {
    log: bool,
}

impl XAxis {
    fn x(&self, clients: u64) -> f64 {
        if self.log {
            (clients.max(1) as f64).log10()
        } else {
            clients as f64
        }
    }
}

pub(super) fn draw(
    doc: &SweepDoc,
    dir: &Path,
    spec: &Spec,
    across: Across,
) -> Result<Chart, ReportError> {
    let path = dir.join(spec.file);
    let e = |message: String| ReportError::Chart {
        path: path.clone(),
        message,
    };
    let mut names: Vec<String> = doc.techniques.clone();
    for s in &doc.steps {
        if !names.contains(&s.technique) {
            names.push(s.technique.clone());
        }
    }
    let (lo, hi) = doc.steps.iter().fold((u64::MAX, 0u64), |(a, b), s| {
        (a.min(s.clients), b.max(s.clients))
    });
    let (lo, hi) = if lo > hi {
        (1, 10)
    } else {
        (lo.max(1), hi.max(lo + 1))
    };
    let axis = XAxis {
        log: hi as f64 / lo as f64 > 10.0,
    };
    let (x_ticks, x_range) = if axis.log {
        let (t, (a, b)) = log_ticks(lo as f64, hi as f64);
        (t, (a, b))
    } else {
        let (t, top) = linear_ticks(hi as f64 * 1.05);
        (t, (0.0, top))
    };
    let slo_ms = doc.slo.p99_us as f64 / 1000.0;
    let is_p99 = spec.file == "sweep_p99.png" || spec.file == "sweep_instances_p99.png";
    let mut y_max = doc
        .steps
        .iter()
        .filter_map(|s| (spec.value)(s))
        .fold(0.0, f64::max);
    if is_p99 {
        y_max = y_max.max(slo_ms);
    }
    let (y_ticks, y_top) = linear_ticks(y_max * 1.1);

    let mut entries: Vec<Entry> = names
        .iter()
        .map(|n| (Mark::Line(colors::color(n)), colors::display_name(n)))
        .collect();
    entries.push((
        Mark::Dot(BLACK),
        match across {
            Across::Clients => "knee: ringed; missed: ×",
            Across::Instances => "missed the objective: ×",
        }
        .into(),
    ));
    if is_p99 {
        entries.push((
            Mark::Dashed(BLACK, 9, 6),
            format!(
                "objective: p99 ≤ {}",
                fmt::latency_us(doc.slo.p99_us as f64)
            ),
        ));
    }
    let root = BitMapBackend::new(&path, (WIDTH, HEIGHT)).into_drawing_area();
    let body = legend::titled(&root, spec.title).map_err(&e)?;
    let area = legend::split(&body, &entries).map_err(&e)?;
    let log = axis.log;
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
    let x_fmt = move |x: &f64| {
        if across == Across::Instances && (x - x.round()).abs() > 1e-6 {
            // Instances are whole: no label between them.
            return String::new();
        }
        let v = if log { 10f64.powf(*x) } else { *x };
        fmt::count(v.round() as u64)
    };
    let tick = spec.tick;
    ctx.configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(BLACK.mix(0.12))
        .x_desc(match (across, log) {
            (Across::Instances, _) => "server instances",
            (Across::Clients, true) => "clients per technique (log scale)",
            (Across::Clients, false) => "clients per technique",
        })
        .y_desc(spec.y_desc)
        .axis_desc_style((FONT, 26))
        .label_style((FONT, 24))
        .x_label_formatter(&x_fmt)
        .y_label_formatter(&|y| tick(*y))
        .draw()
        .map_err(msg)
        .map_err(&e)?;
    if is_p99 {
        ctx.draw_series(DashedLineSeries::new(
            vec![(x_range.0, slo_ms), (x_range.1, slo_ms)],
            9,
            6,
            ShapeStyle::from(BLACK).stroke_width(3),
        ))
        .map_err(msg)
        .map_err(&e)?;
    }
    let n_lines = names.len() as u32;
    for (i, name) in names.iter().enumerate() {
        let color = colors::color(name);
        // Earlier lines are wider, so a line hidden under a later one shows as its rim.
        let width = 3 + 2 * (n_lines - 1 - i as u32).min(4);
        let steps = doc.steps_of(name);
        let pts: Vec<(f64, f64, &StepRow)> = steps
            .iter()
            .filter_map(|s| Some((axis.x(s.clients), (spec.value)(s)?, *s)))
            .collect();
        ctx.draw_series(LineSeries::new(
            pts.iter().map(|p| (p.0, p.1)),
            ShapeStyle::from(color).stroke_width(width),
        ))
        .map_err(msg)
        .map_err(&e)?;
        ctx.draw_series(
            pts.iter()
                .map(|p| Circle::new((p.0, p.1), 3 + width as i32, color.filled())),
        )
        .map_err(msg)
        .map_err(&e)?;
        for p in pts.iter().filter(|p| !p.2.slo_met) {
            ctx.draw_series(std::iter::once(Cross::new(
                (p.0, p.1),
                12,
                ShapeStyle::from(color).stroke_width(4),
            )))
            .map_err(msg)
            .map_err(&e)?;
        }
        let knee = (across == Across::Clients)
            .then(|| doc.outcome(name))
            .flatten()
            .and_then(|o| o.knee_clients)
            .or_else(|| {
                (across == Across::Clients)
                    .then(|| super::knee(&steps))
                    .flatten()
            });
        if let Some(p) = knee.and_then(|k| pts.iter().find(|p| p.2.clients == k)) {
            ctx.draw_series(std::iter::once(Circle::new(
                (p.0, p.1),
                16,
                ShapeStyle::from(BLACK).stroke_width(3),
            )))
            .map_err(msg)
            .map_err(&e)?;
        }
    }
    crate::charts::present(&root, &path)?;
    Ok(Chart {
        file: spec.file.into(),
        title: spec.title.into(),
        caption: spec.caption.into(),
    })
}
