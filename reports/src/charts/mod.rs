//! The report's PNG charts, one module per chart, drawn with plotters (bitmap backend, the
//! committed DejaVu Sans font: no system fonts needed). Every chart is 1600x1000 with a title,
//! axis labels with units and a legend, and gives a technique the same colour
//! ([`crate::colors`]). In comparison mode the runs are drawn side by side: bars get a run
//! letter (A, B, ...) and lines a dash pattern per run; the timeline gets one chart per run.
//! Runs with faults add [`recovery`], one bar per recovery behaviour; request runs add
//! [`request`]'s TTFT and inter-event gap percentile charts, and when several are compared
//! [`concurrency`]'s events/s and TTFT p99 against concurrency.

pub mod bars;
pub mod bytes;
pub mod concurrency;
pub mod cost;
pub mod latency;
pub mod legend;
pub mod recovery;
pub mod request;
pub mod requests;
pub mod timeline;
pub mod whiskers;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::ranged1d::Ranged;
use plotters::prelude::*;

use crate::colors;
use crate::error::ReportError;
use crate::model::Run;

/// Width of every chart (pixels).
pub const WIDTH: u32 = 1600;
/// Height of every chart (pixels).
pub const HEIGHT: u32 = 1000;
/// The font family every text uses (registered from the committed file).
pub const FONT: &str = "sans-serif";

static FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Registers the committed font once per process. Charts call this before drawing.
pub fn ensure_font() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES)
            .map_err(|_| "the committed font DejaVuSans.ttf could not be read".to_string())
    })
    .clone()
}

/// A chart written to disk.
#[derive(Debug, Clone)]
pub struct Chart {
    /// File name inside the report directory.
    pub file: String,
    /// The title (also the page's caption).
    pub title: String,
    /// What it shows, one or two sentences for the page.
    pub caption: String,
}

/// Draws every chart of `runs` into `dir`.
pub fn draw_all(runs: &[Run], dir: &Path) -> Result<Vec<Chart>, ReportError> {
    ensure_font().map_err(|message| ReportError::Chart {
        path: dir.to_path_buf(),
        message,
    })?;
    let mut charts = vec![
        latency::draw(runs, dir)?,
        bytes::draw(runs, dir)?,
        requests::draw(runs, dir)?,
        cost::draw(runs, dir)?,
    ];
    for (i, run) in runs.iter().enumerate() {
        charts.push(timeline::draw(run, i, runs.len() > 1, dir)?);
    }
    if crate::recovery::any(runs) {
        charts.push(recovery::draw(runs, dir)?);
    }
    charts.extend(request::draw(runs, dir)?);
    if concurrency::wanted(runs) {
        charts.extend(concurrency::draw(
            &concurrency::points(runs),
            dir,
            "each run",
        )?);
    }
    Ok(charts)
}

/// Maps a plotters error to [`ReportError::Chart`].
pub(crate) fn chart_err(path: &Path) -> impl Fn(String) -> ReportError + '_ {
    move |message| ReportError::Chart {
        path: path.to_path_buf(),
        message,
    }
}

/// Debug-formats any plotters error (their Display needs bounds the backends do not all meet).
pub(crate) fn msg<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// Writes the chart drawn on `root` to `path`. When that fails because the file cannot be
/// written (a directory in its place, no permission), the error says so in words.
pub(crate) fn present(
    root: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    path: &Path,
) -> Result<(), ReportError> {
    root.present().map_err(|e| {
        let probe = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path);
        match probe {
            Err(io) => ReportError::io(path, io),
            Ok(_) => chart_err(path)(msg(e)),
        }
    })
}

/// A 1600x1000 white canvas writing to `path`.
pub(crate) fn canvas(path: &Path) -> DrawingArea<BitMapBackend<'_>, plotters::coord::Shift> {
    BitMapBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area()
}

/// The output path of a chart file.
pub(crate) fn out(dir: &Path, file: &str) -> PathBuf {
    dir.join(file)
}

/// The techniques present in any run, in canonical order.
pub fn techniques(runs: &[Run]) -> Vec<String> {
    let mut names: Vec<String> = runs
        .iter()
        .flat_map(|r| r.techniques.iter().map(|t| t.technique.name().to_string()))
        .collect();
    names.sort_by_key(|n| colors::order_key(n));
    names.dedup();
    names
}

/// The letter naming run `i` on charts: A, B, ..., Z, then A2, B2...
pub fn run_letter(i: usize) -> String {
    let c = char::from(b'A' + (i % 26) as u8);
    if i < 26 {
        c.to_string()
    } else {
        format!("{c}{}", i / 26 + 1)
    }
}

/// A linear f64 axis whose tick marks are exactly the given values (plotters' own
/// `with_key_points` loses the value formatter in 0.3.7, so labels could not be customised).
#[derive(Debug, Clone)]
pub struct TickAxis {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl TickAxis {
    /// `lo..hi` with tick marks (and grid lines) at `ticks`.
    pub fn new(lo: f64, hi: f64, ticks: Vec<f64>) -> Self {
        let ticks = ticks.into_iter().filter(|t| *t >= lo && *t <= hi).collect();
        TickAxis { lo, hi, ticks }
    }
}

impl Ranged for TickAxis {
    type ValueType = f64;
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.hi - self.lo;
        if span <= 0.0 || !span.is_finite() {
            return limit.0;
        }
        let share = (v - self.lo) / span;
        limit.0 + (f64::from(limit.1 - limit.0) * share + 1e-3).floor() as i32
    }

    fn key_points<H: plotters::coord::ranged1d::KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }
}

/// Round tick positions from 0 to at least `max` (about six of them), and the top of the axis.
pub fn linear_ticks(max: f64) -> (Vec<f64>, f64) {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let n = ((max / step).ceil() as usize).max(1);
    let ticks: Vec<f64> = (0..=n).map(|i| i as f64 * step).collect();
    let top = ticks[n];
    (ticks, top)
}

/// Decade ticks (as log10 values) covering `lo..=hi` (both > 0), with 2 and 5 in between when
/// the range is narrow. Returns the ticks and the axis range in log10 units.
pub fn log_ticks(lo: f64, hi: f64) -> (Vec<f64>, (f64, f64)) {
    let a = lo.log10().floor();
    let b = hi.log10().ceil().max(a + 1.0);
    let mut ticks = Vec::new();
    let narrow = b - a <= 3.0;
    let mut d = a;
    while d <= b {
        ticks.push(d);
        if narrow && d < b {
            ticks.push(d + 2f64.log10());
            ticks.push(d + 5f64.log10());
        }
        d += 1.0;
    }
    (ticks, (a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks() {
        let (t, top) = linear_ticks(612.0);
        assert_eq!(t[1], 200.0);
        assert!(top >= 612.0);
        let (t, (a, b)) = log_ticks(0.004, 2.1);
        assert_eq!((a, b), (-3.0, 1.0));
        assert!(t.contains(&0.0));
        assert_eq!(run_letter(1), "B");
    }
}
