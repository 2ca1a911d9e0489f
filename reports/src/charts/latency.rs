//! Chart 1: latency by percentile, the HdrHistogram percentile spectrum as wrk2 plots it.
//! The horizontal axis is logarithmic in 1/(1 − percentile), so 90%, 99%, 99.9%, 99.99% are
//! evenly spaced and the tail gets the room it deserves; the vertical axis is publish-to-receive
//! latency, logarithmic too, since techniques differ by orders of magnitude (a short poll every
//! second waits up to a second; a stream takes about a millisecond). One line per technique
//! from its `.hlog` histogram, each ending at the percentile its sample count still resolves.

use std::path::Path;

use hdrhistogram::Histogram;
use plotters::prelude::*;

use super::legend::{self, Entry, Mark};
use super::{Chart, FONT, canvas, chart_err, log_ticks, msg, out, run_letter, techniques};
use crate::colors;
use crate::error::ReportError;
use crate::fmt;
use crate::model::Run;

pub const FILE: &str = "latency_percentiles.png";

/// Steps along the log10(1/(1 − q)) axis.
const STEP: f64 = 0.01;
/// The deepest percentile drawn: 99.9999%.
const MAX_NINES: f64 = 6.0;

/// The line pattern of run `r` in comparison mode: the first solid, then dashed and dotted in
/// turn (dash and gap in pixels).
fn pattern(r: usize) -> Option<(u32, u32)> {
    match r {
        0 => None,
        r if r % 2 == 1 => Some((20, 12)),
        _ => Some((5, 9)),
    }
}

/// "50%", "90%", "99%", "99.9%"... for a position on the axis.
fn percentile_label(x: f64) -> String {
    let q = 1.0 - 10f64.powf(-x);
    let nines = x.round() as i32;
    if (x - 2f64.log10()).abs() < 1e-9 {
        "50%".into()
    } else if x <= 0.0 {
        "0%".into()
    } else if nines >= 2 {
        format!("{:.*}%", (nines - 2) as usize, q * 100.0)
    } else {
        format!("{:.0}%", q * 100.0)
    }
}

/// The spectrum of one histogram: (axis position, latency µs) from 0% to the deepest
/// percentile its count resolves.
pub fn spectrum(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    let n = h.len();
    if n == 0 {
        return Vec::new();
    }
    let end = (n as f64).log10().clamp(STEP, MAX_NINES);
    let steps = (end / STEP).ceil() as usize;
    let mut points: Vec<(f64, f64)> = (0..=steps)
        .map(|i| {
            let x = (i as f64 * STEP).min(end);
            let q = 1.0 - 10f64.powf(-x);
            (x, h.value_at_quantile(q) as f64)
        })
        .collect();
    points.push((end, h.max() as f64));
    points
}

/// A repeated technique's min–max of p50, p90, p99 and p99.9 over its repetitions, at their
/// places on the axis: (x, min µs, max µs). Empty for a run measured once.
fn percentile_ranges(t: &crate::model::TechniqueSummary) -> Vec<(f64, f64, f64)> {
    use crate::repeat::{P50, P90, P99, P999, range};
    [(2f64.log10(), P50), (1.0, P90), (2.0, P99), (3.0, P999)]
        .into_iter()
        .filter_map(|(x, fig)| range(t, fig).map(|(lo, hi)| (x, lo, hi)))
        .collect()
}

/// A line of a percentile chart: technique, run index, points (axis position, µs).
pub type Line = (String, usize, Vec<(f64, f64)>);

/// A percentile chart to draw ([`draw_spectra`]): the run report's latency chart, and request
/// mode's TTFT, ITL and lateness charts ([`super::request`]).
pub struct Spectra<'a> {
    pub file: &'a str,
    /// The title drawn on the chart.
    pub heading: &'a str,
    /// The vertical axis' description.
    pub y_desc: &'a str,
    pub lines: Vec<Line>,
    /// (x, lo µs, hi µs, colour) of min–max whiskers (a repeated run's; else none).
    pub whiskers: Vec<(f64, f64, f64, RGBColor)>,
    /// Legend entries after the techniques' and the maximum's.
    pub legend_extra: Vec<Entry>,
}

pub fn draw(runs: &[Run], dir: &Path) -> Result<Chart, ReportError> {
    let names = techniques(runs);
    let mut lines = Vec::new();
    let mut estimated = Vec::new();
    for name in &names {
        for (r, run) in runs.iter().enumerate() {
            if let Some(h) = run.histograms.get(name) {
                let pts = spectrum(h);
                if !pts.is_empty() {
                    lines.push((name.clone(), r, pts));
                }
            } else if run.technique(name).is_some_and(|t| t.request.is_some()) {
                // A request run without its lateness histogram: the summary's percentiles.
                let pts = run
                    .technique(name)
                    .and_then(crate::request::lateness)
                    .map(summary_spectrum)
                    .unwrap_or_default();
                if !pts.is_empty() {
                    estimated.push(colors::display_name(name));
                    lines.push((name.clone(), r, pts));
                }
            }
        }
    }
    estimated.dedup();
    let whiskers = whiskers(runs, &lines);
    let repeated = !whiskers.is_empty();
    // In a request run `latency_us` is each event's lateness (received − due).
    let request = crate::request::any(runs);
    let (heading, y_desc) = if request {
        (
            "Lateness (received − due) by percentile",
            "lateness (log scale)",
        )
    } else {
        (
            "Publish-to-receive latency by percentile",
            "latency (log scale)",
        )
    };
    draw_spectra(
        runs,
        dir,
        &Spectra {
            file: FILE,
            heading,
            y_desc,
            lines,
            whiskers,
            legend_extra: super::whiskers::legend(runs)
                .into_iter()
                .chain(legend::runs(runs))
                .collect(),
        },
    )?;
    let what = if request {
        "Lateness (received − due: each event's receive time minus the time the server's \
         schedule made it due, so a server that falls behind shows up)"
    } else {
        "Publish-to-receive latency (from each message's scheduled send time, so a \
         stalled server shows up)"
    };
    Ok(Chart {
        file: FILE.into(),
        title: if request {
            "Lateness by percentile"
        } else {
            "Latency by percentile"
        }
        .into(),
        caption: format!(
            "{what} at every percentile, from the steady-state \
             histograms. Both axes are logarithmic; each line ends at its maximum (dot).{}{}",
            if estimated.is_empty() {
                String::new()
            } else {
                format!(
                    " No histogram for {}: drawn through the summary's percentiles.",
                    estimated.join(", ")
                )
            },
            if repeated {
                " The histograms are merged over the repetitions; whiskers at p50, p90, p99 \
                 and p99.9 show each percentile's min–max over them."
            } else {
                ""
            }
        ),
    })
}

/// A spectrum from a summary's percentiles when there is no histogram: min, p50, p90, p99,
/// p99.9 at their places on the axis, then the maximum where the count's resolution ends (at
/// 99.9% when the count is unknown). Empty when no percentile is known.
pub fn summary_spectrum(l: &crate::model::LatencyUs) -> Vec<(f64, f64)> {
    let end = l
        .count
        .filter(|n| *n > 0)
        .map_or(3.0, |n| (n as f64).log10().clamp(STEP, MAX_NINES));
    let mut pts: Vec<(f64, f64)> = [
        (0.0, l.min),
        (2f64.log10(), l.p50),
        (1.0, l.p90),
        (2.0, l.p99),
        (3.0, l.p999),
    ]
    .into_iter()
    .filter(|(x, _)| *x <= end + 1e-9)
    .filter_map(|(x, v)| Some((x, v? as f64)))
    .collect();
    if let Some(max) = l.max {
        pts.push((end.max(pts.last().map_or(0.0, |p| p.0)), max as f64));
    }
    // Percentiles never fall: keep the line monotonic if a writer rounded them oddly.
    for i in 1..pts.len() {
        pts[i].1 = pts[i].1.max(pts[i - 1].1);
    }
    pts
}

/// A repeated run's whiskers: (x, lo µs, hi µs, colour) of each repeated technique's
/// percentiles where its line reaches, each line's whiskers shifted a little so that they
/// stand side by side.
fn whiskers(runs: &[Run], lines: &[Line]) -> Vec<(f64, f64, f64, RGBColor)> {
    let n = lines.len() as f64;
    lines
        .iter()
        .enumerate()
        .flat_map(|(i, (name, r, pts))| {
            let end = pts.last().map_or(0.0, |p| p.0);
            let shift = (i as f64 - (n - 1.0) / 2.0) * 0.05;
            let color = super::whiskers::shade(colors::color(name));
            runs[*r]
                .technique(name)
                .map(percentile_ranges)
                .unwrap_or_default()
                .into_iter()
                .filter(move |(x, _, _)| *x <= end + 1e-9)
                .map(move |(x, lo, hi)| (x + shift, lo, hi, color))
        })
        .collect()
}

/// Draws one percentile chart into `dir`.
pub fn draw_spectra(runs: &[Run], dir: &Path, s: &Spectra) -> Result<(), ReportError> {
    let path = out(dir, s.file);
    let e = chart_err(&path);
    let compare = runs.len() > 1;
    let lines = &s.lines;
    let x_end = lines
        .iter()
        .flat_map(|(_, _, p)| p.last().map(|p| p.0))
        .fold(2.0f64, f64::max)
        + 0.12;
    let (lo, hi) = lines
        .iter()
        .flat_map(|(_, _, p)| p.iter().map(|p| p.1))
        .chain(s.whiskers.iter().flat_map(|w| [w.1, w.2]))
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    let (lo, hi) = if lo.is_finite() {
        (lo.max(1.0) / 1.5, hi * 1.5)
    } else {
        (100.0, 1_000_000.0)
    };
    let (y_ticks, (y0, y1)) = log_ticks(lo, hi);
    let mut x_ticks = vec![0.0, 2f64.log10()];
    x_ticks.extend((1..=x_end.floor() as usize).map(|i| i as f64));

    let entries: Vec<Entry> = lines
        .iter()
        .map(|(name, r, _)| {
            let c = colors::color(name);
            if compare {
                let mark = match pattern(*r) {
                    None => Mark::Line(c),
                    Some((dash, gap)) => Mark::Dashed(c, dash / 2, gap / 2),
                };
                (
                    mark,
                    format!("{} · {}", colors::display_name(name), run_letter(*r)),
                )
            } else {
                (Mark::Line(c), colors::display_name(name))
            }
        })
        .chain(std::iter::once((
            Mark::Dot(RGBColor(90, 90, 90)),
            "maximum".to_string(),
        )))
        .chain(s.legend_extra.iter().cloned())
        .collect();
    let root = canvas(&path);
    let body = legend::titled(&root, s.heading).map_err(&e)?;
    let area = legend::split(&body, &entries).map_err(&e)?;
    let mut ctx = ChartBuilder::on(&area)
        .margin(24)
        .margin_right(50)
        .x_label_area_size(80)
        .y_label_area_size(130)
        .build_cartesian_2d(
            super::TickAxis::new(0f64, x_end, x_ticks),
            super::TickAxis::new(y0, y1, y_ticks),
        )
        .map_err(msg)
        .map_err(&e)?;
    ctx.configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(BLACK.mix(0.12))
        .x_desc("percentile (logarithmic in 1/(1 − percentile))")
        .y_desc(s.y_desc)
        .axis_desc_style((FONT, 30))
        .label_style((FONT, 26))
        .x_label_formatter(&|x| percentile_label(*x))
        .y_label_formatter(&|y| fmt::latency_tick(10f64.powf(*y)))
        .draw()
        .map_err(msg)
        .map_err(&e)?;

    for (name, r, pts) in lines {
        let color = colors::color(name);
        let style = ShapeStyle::from(color).stroke_width(4);
        let pts: Vec<(f64, f64)> = pts.iter().map(|(x, v)| (*x, v.max(1.0).log10())).collect();
        let Some(last) = pts.last().copied() else {
            continue;
        };
        match pattern(*r) {
            None => {
                ctx.draw_series(LineSeries::new(pts, style))
                    .map_err(msg)
                    .map_err(&e)?;
            }
            Some((dash, gap)) => {
                ctx.draw_series(DashedLineSeries::new(pts, dash, gap, style))
                    .map_err(msg)
                    .map_err(&e)?;
            }
        }
        // The maximum, marked where the line ends.
        ctx.draw_series(std::iter::once(Circle::new(last, 7, color.filled())))
            .map_err(msg)
            .map_err(&e)?;
    }
    for (x, lo, hi, color) in &s.whiskers {
        let span = (lo.max(1.0).log10(), hi.max(1.0).log10());
        let w = super::whiskers::whisker(*x, 0.02, span, *color);
        ctx.draw_series(w).map_err(msg).map_err(&e)?;
    }
    super::present(&root, &path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spectrum_follows_the_histogram() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
        for v in 1..=10_000u64 {
            h.record(v * 10).unwrap();
        }
        let s = spectrum(&h);
        // Ends at log10(10,000) = 4 nines (99.99%), with the maximum.
        let last = s.last().unwrap();
        assert!((last.0 - 4.0).abs() < 1e-9);
        assert_eq!(last.1, h.max() as f64);
        let at = |x: f64| s.iter().find(|p| (p.0 - x).abs() < 1e-9).unwrap().1;
        assert_eq!(at(1.0), h.value_at_quantile(0.9) as f64);
        assert_eq!(at(2.0), h.value_at_quantile(0.99) as f64);
        assert!(s.windows(2).all(|w| w[0].1 <= w[1].1), "monotonic");
    }

    #[test]
    fn labels() {
        assert_eq!(percentile_label(0.0), "0%");
        assert_eq!(percentile_label(2f64.log10()), "50%");
        assert_eq!(percentile_label(1.0), "90%");
        assert_eq!(percentile_label(2.0), "99%");
        assert_eq!(percentile_label(3.0), "99.9%");
        assert_eq!(percentile_label(4.0), "99.99%");
    }
}
