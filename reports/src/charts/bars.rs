//! A bar chart shared by the per-message charts: one group of bars per technique, one bar per
//! run in each group, each bar a stack of coloured segments with its value written above it,
//! on a linear or logarithmic value axis, with an optional dashed reference line.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{FONT, linear_ticks, log_ticks, msg};
use crate::colors;

/// One coloured part of a stacked bar.
#[derive(Debug, Clone)]
pub struct Segment {
    pub value: f64,
    pub color: RGBColor,
}

/// One bar: `group` indexes the techniques, `run` the runs.
#[derive(Debug, Clone)]
pub struct Bar {
    pub group: usize,
    pub run: usize,
    /// Bottom to top; empty when the figure is unknown.
    pub segments: Vec<Segment>,
    /// Written above the bar.
    pub label: String,
    /// Written above the label (the run letter in comparison mode).
    pub tag: Option<String>,
    /// The figure's min and max over a repeated run's repetitions (the bar is the median),
    /// drawn as a whisker ([`super::whiskers`]); `None` for a run measured once.
    pub whisker: Option<(f64, f64)>,
}

impl Bar {
    fn total(&self) -> f64 {
        self.segments.iter().map(|s| s.value).sum()
    }
}

/// Everything one bar chart shows (the legend is drawn by the caller, beside it).
pub struct BarChart<'a> {
    /// A panel title; `None` when the canvas title says it all.
    pub title: Option<&'a str>,
    pub y_desc: &'a str,
    /// Technique names, one group each.
    pub groups: &'a [String],
    pub runs: usize,
    pub log_y: bool,
    pub bars: Vec<Bar>,
    /// A dashed horizontal reference line at this value.
    pub hline: Option<f64>,
    /// How tick values are written.
    pub y_fmt: &'a dyn Fn(f64) -> String,
}

/// Draws a whole bar-chart PNG at `path`: the canvas, its `title`, the legend `entries` in a
/// strip on the right, and `chart` beside them.
pub fn render(
    path: &std::path::Path,
    title: &str,
    entries: &[super::legend::Entry],
    chart: &BarChart,
) -> Result<(), crate::error::ReportError> {
    let err = super::chart_err(path);
    let root = super::canvas(path);
    let body = super::legend::titled(&root, title).map_err(&err)?;
    let plot = super::legend::split(&body, entries).map_err(&err)?;
    draw(&plot, chart).map_err(&err)?;
    super::present(&root, path)
}

/// Draws `chart` filling `area`.
pub fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &BarChart,
) -> Result<(), String> {
    let totals: Vec<f64> = chart
        .bars
        .iter()
        .filter(|b| !b.segments.is_empty())
        .map(|b| b.whisker.map_or(b.total(), |(_, hi)| hi.max(b.total())))
        .chain(chart.hline)
        .collect();
    let max = totals.iter().copied().fold(0.0, f64::max);
    let (ticks, y_lo, y_hi, log) = if chart.log_y {
        let min_pos = totals
            .iter()
            .copied()
            .filter(|v| *v > 0.0)
            .fold(f64::INFINITY, f64::min);
        let (lo, hi) = if min_pos.is_finite() {
            (min_pos / 2.0, max * 3.0)
        } else {
            (0.01, 10.0)
        };
        let (ticks, (a, b)) = log_ticks(lo, hi);
        (ticks, a, b, true)
    } else {
        let (ticks, top) = linear_ticks(max * 1.12);
        (ticks, 0.0, top, false)
    };
    // Value → axis position (log10 on a log axis; zero and below sit on the axis floor).
    let ty = move |v: f64| {
        if log {
            if v > 0.0 { v.log10().max(y_lo) } else { y_lo }
        } else {
            v
        }
    };
    let groups = chart.groups.len().max(1);
    let centers: Vec<f64> = (0..groups).map(|g| g as f64 + 0.5).collect();
    let names: Vec<String> = chart
        .groups
        .iter()
        .map(|g| colors::display_name(g))
        .collect();
    let y_fmt = chart.y_fmt;
    // Smaller labels when the groups are narrow, so technique names never run together.
    let (w, _) = area.dim_in_pixel();
    let per_group = w.saturating_sub(170) / groups as u32;
    let label_size = if per_group >= 160 { 26 } else { 21 };
    let value_size = if per_group / (chart.runs.max(1) as u32) >= 120 {
        24
    } else {
        19
    };

    let mut builder = ChartBuilder::on(area);
    builder
        .margin(20)
        .margin_right(30)
        .x_label_area_size(70)
        .y_label_area_size(130);
    if let Some(t) = chart.title {
        builder.caption(t, (FONT, 30));
    }
    let mut ctx = builder
        .build_cartesian_2d(
            super::TickAxis::new(0f64, groups as f64, centers),
            super::TickAxis::new(y_lo, y_hi, ticks),
        )
        .map_err(msg)?;
    ctx.configure_mesh()
        .disable_x_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(BLACK.mix(0.12))
        .x_desc("technique")
        .y_desc(chart.y_desc)
        .axis_desc_style((FONT, 28))
        .label_style((FONT, label_size))
        .x_label_formatter(&|x| {
            let i = (x - 0.5).round();
            if i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| {
            if log {
                y_fmt(10f64.powf(*y))
            } else {
                y_fmt(*y)
            }
        })
        .draw()
        .map_err(msg)?;

    let width = 0.72 / chart.runs.max(1) as f64;
    let label_style =
        TextStyle::from((FONT, value_size).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
    for bar in &chart.bars {
        let x0 = bar.group as f64 + 0.14 + bar.run as f64 * width;
        let x1 = x0 + width * 0.9;
        let mut base = 0.0;
        for s in &bar.segments {
            let (y0, y1) = (ty(base), ty(base + s.value));
            ctx.draw_series(std::iter::once(Rectangle::new(
                [(x0, y0), (x1, y1)],
                s.color.filled(),
            )))
            .map_err(msg)?;
            base += s.value;
        }
        let mut top = if bar.segments.is_empty() {
            y_lo
        } else {
            ty(base)
        };
        if let Some((lo, hi)) = bar.whisker.filter(|_| !bar.segments.is_empty()) {
            let x = (x0 + x1) / 2.0;
            let cap = (x1 - x0) / 5.0;
            let w = super::whiskers::whisker(x, cap, (ty(lo), ty(hi)), super::whiskers::ON_BAR);
            ctx.draw_series(w).map_err(msg)?;
            top = top.max(ty(hi));
        }
        let text = Text::new(bar.label.clone(), (0, -6), label_style.clone());
        ctx.draw_series(std::iter::once(
            EmptyElement::at(((x0 + x1) / 2.0, top)) + text,
        ))
        .map_err(msg)?;
        if let Some(tag) = &bar.tag {
            let lift = -value_size - 10;
            let text = Text::new(tag.clone(), (0, lift), label_style.clone());
            ctx.draw_series(std::iter::once(
                EmptyElement::at(((x0 + x1) / 2.0, top)) + text,
            ))
            .map_err(msg)?;
        }
    }

    if let Some(value) = chart.hline {
        let y = ty(value);
        let style = ShapeStyle::from(BLACK).stroke_width(3);
        ctx.draw_series(DashedLineSeries::new(
            [(0.0, y), (groups as f64, y)],
            14,
            10,
            style,
        ))
        .map_err(msg)?;
    }
    Ok(())
}
