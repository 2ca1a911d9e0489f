//! Chart 5: the run over time, from `timeseries.csv`: delivered messages per second (top) and
//! open client connections (bottom), one line per technique. Techniques run one after another,
//! so each occupies its own stretch of time; its steady-state window (the one every summary
//! figure comes from) is shaded in its colour. One chart per run.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::legend::{self, Entry, Mark};
use super::{Chart, FONT, canvas, chart_err, linear_ticks, msg, out};
use crate::colors;
use crate::error::ReportError;
use crate::fmt;
use crate::model::{Run, TimeseriesRow};

/// The file of run `index` (`over_time.png` when there is one run).
pub fn file_name(index: usize, compare: bool) -> String {
    if compare {
        format!("over_time_{}.png", super::run_letter(index))
    } else {
        "over_time.png".into()
    }
}

/// Technique names in the order they appear in the series.
fn series_names(points: &[TimeseriesRow]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for p in points {
        let name = p.technique.name();
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    names
}

/// The repetitions (1..=N) in the series, or `[None]` for a run measured once.
fn repetitions(points: &[TimeseriesRow]) -> Vec<Option<u32>> {
    let mut reps: Vec<Option<u32>> = points.iter().map(|p| p.repetition).collect();
    reps.sort();
    reps.dedup();
    reps
}

/// (technique, first, last second) of each technique's steady phase, one per repetition.
fn steady_windows(points: &[TimeseriesRow], names: &[String]) -> Vec<(String, f64, f64)> {
    let reps = repetitions(points);
    names
        .iter()
        .flat_map(|n| reps.iter().map(move |rep| (n, *rep)))
        .filter_map(|(n, rep)| {
            let ts = points
                .iter()
                .filter(|p| p.technique.name() == n && p.repetition == rep)
                .filter(|p| p.phase.as_deref() == Some("steady"))
                .map(|p| p.t_s);
            let (lo, hi) = ts.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), t| {
                (a.min(t), b.max(t))
            });
            lo.is_finite().then(|| (n.clone(), lo - 1.0, hi))
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    points: &[TimeseriesRow],
    names: &[String],
    x_range: (f64, f64),
    title: &str,
    y_desc: &str,
    value: impl Fn(&TimeseriesRow) -> Option<f64>,
) -> Result<(), String> {
    let max = points.iter().filter_map(&value).fold(0.0, f64::max);
    let (ticks, top) = linear_ticks(max * 1.1);
    let mut ctx = ChartBuilder::on(area)
        .margin(16)
        .margin_right(40)
        .caption(title, (FONT, 28))
        .x_label_area_size(60)
        .y_label_area_size(130)
        .build_cartesian_2d(x_range.0..x_range.1, super::TickAxis::new(0f64, top, ticks))
        .map_err(msg)?;
    ctx.configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(BLACK.mix(0.12))
        .x_desc("time since the run started (s); shaded: each technique's steady-state window")
        .y_desc(y_desc)
        .axis_desc_style((FONT, 26))
        .label_style((FONT, 24))
        .x_labels(16)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| fmt::tick(*y))
        .draw()
        .map_err(msg)?;
    for (name, a, b) in steady_windows(points, names) {
        let c = colors::color(&name).mix(0.13);
        ctx.draw_series(std::iter::once(Rectangle::new(
            [(a, 0.0), (b, top)],
            c.filled(),
        )))
        .map_err(msg)?;
    }
    let reps = repetitions(points);
    for name in names {
        let color = colors::color(name);
        let style = ShapeStyle::from(color).stroke_width(4);
        // One line per repetition: seconds of different repetitions (each on its own fresh
        // server) are never joined into one line.
        for rep in &reps {
            let pts: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| p.technique.name() == name && p.repetition == *rep)
                .filter_map(|p| Some((p.t_s, value(p)?)))
                .collect();
            ctx.draw_series(LineSeries::new(pts, style)).map_err(msg)?;
        }
    }
    Ok(())
}

pub fn draw(run: &Run, index: usize, compare: bool, dir: &Path) -> Result<Chart, ReportError> {
    let file = file_name(index, compare);
    let path = out(dir, &file);
    let e = chart_err(&path);
    let points = &run.timeseries;
    let names = series_names(points);
    let (t0, t1) = points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p.t_s), b.max(p.t_s))
        });
    let x_range = if t0.is_finite() && t1 > t0 {
        (t0.min(0.0), t1 + 1.0)
    } else {
        (0.0, 1.0)
    };
    let mut title = "Over time: delivered messages per second and open connections".to_string();
    if compare {
        let label: String = run.label.chars().take(24).collect();
        title = format!("{title}   [{}: {label}]", super::run_letter(index));
    }
    let mut entries: Vec<Entry> = names
        .iter()
        .map(|n| (Mark::Line(colors::color(n)), colors::display_name(n)))
        .collect();
    entries.push((
        Mark::Box(RGBColor(215, 215, 215)),
        "steady-state window".into(),
    ));
    let root = canvas(&path);
    let body = legend::titled(&root, &title).map_err(&e)?;
    let area = legend::split(&body, &entries).map_err(&e)?;
    let (_, h) = area.dim_in_pixel();
    let (top, bottom) = area.split_vertically(h / 2);
    panel(
        &top,
        points,
        &names,
        x_range,
        "delivered messages per second",
        "delivered (messages/s)",
        |p| p.delivered_per_s,
    )
    .map_err(&e)?;
    panel(
        &bottom,
        points,
        &names,
        x_range,
        "open client connections",
        "connections",
        |p| p.connections.map(|c| c as f64),
    )
    .map_err(&e)?;
    super::present(&root, &path)?;
    let mut chart_title = "Over time".to_string();
    if compare {
        chart_title = format!(
            "{chart_title} ({} = {})",
            super::run_letter(index),
            run.label
        );
    }
    Ok(Chart {
        file,
        title: chart_title,
        caption: "Per-second delivered messages (top) and open client connections (bottom) \
                  through each technique's ramp-up, warm-up, steady state and drain; the shaded \
                  stretch is the steady-state window every summary figure comes from."
            .to_string()
            + if repetitions(points).len() > 1 {
                " Each repetition (on its own fresh server) is a separate line, never joined \
                 to the next."
            } else {
                ""
            },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::run_dir::Technique;

    fn row(t_s: f64, repetition: Option<u32>) -> TimeseriesRow {
        TimeseriesRow {
            t_s,
            technique: Technique::Sse,
            phase: Some("steady".into()),
            connections: Some(1),
            delivered_per_s: Some(1.0),
            latency_p99_us: None,
            bytes_down_per_s: None,
            bytes_up_per_s: None,
            requests_per_s: None,
            server_cpu_s: None,
            server_rss_bytes: None,
            loadgen_cpu_s: None,
            repetition,
        }
    }

    #[test]
    fn each_repetition_is_a_window_of_its_own() {
        let names = vec!["sse".to_string()];
        let once: Vec<TimeseriesRow> = (1..=4).map(|t| row(f64::from(t), None)).collect();
        assert_eq!(repetitions(&once), [None]);
        assert_eq!(steady_windows(&once, &names), [("sse".into(), 0.0, 4.0)]);
        // Two repetitions, the second restarting its clock: two windows, never one span.
        let twice: Vec<TimeseriesRow> = [(1.0, 1), (2.0, 1), (1.0, 2), (2.0, 2), (3.0, 2)]
            .into_iter()
            .map(|(t, r)| row(t, Some(r)))
            .collect();
        assert_eq!(repetitions(&twice), [Some(1), Some(2)]);
        assert_eq!(
            steady_windows(&twice, &names),
            [("sse".into(), 0.0, 2.0), ("sse".into(), 0.0, 3.0)]
        );
    }
}
