//! The charts of a sweep over links, against the link's round-trip time (ms, linear, so the
//! expected shapes are straight lines whose slopes read off directly): p50 latency with each
//! technique's expected p50 as a thin dotted line of its colour and flagged steps crossed,
//! p99 latency, requests per delivered message and bytes down per delivered message. One
//! line per technique in its usual colour; same size, font and legend strip as the others.

use std::path::Path;

use plotters::prelude::*;

use super::rtt::RttRow;
use crate::charts::legend::{self, Entry, Mark};
use crate::charts::{Chart, FONT, HEIGHT, TickAxis, WIDTH, ensure_font, linear_ticks, msg};
use crate::colors;
use crate::error::ReportError;
use crate::fmt;

/// One chart's definition.
struct Spec {
    file: &'static str,
    title: &'static str,
    y_desc: &'static str,
    caption: &'static str,
    value: fn(&RttRow) -> Option<f64>,
    /// Draw the expected p50 beside the measurement.
    expected: bool,
}

const SPECS: [Spec; 4] = [
    Spec {
        file: "sweep_rtt_p50.png",
        title: "p50 latency against RTT",
        y_desc: "p50 publish-to-receive latency (ms)",
        caption: "Median publish-to-receive latency at each link's round-trip time; thin \
                  dotted, darker: the technique's expected p50 from the settings and its \
                  loopback floor (a bar spans the range where the model gives one); crossed: a step more than \
                  20% (plus 5 ms) off the model.",
        value: |r| r.p50_ms,
        expected: true,
    },
    Spec {
        file: "sweep_rtt_p99.png",
        title: "p99 latency against RTT",
        y_desc: "p99 publish-to-receive latency (ms)",
        caption: "p99 publish-to-receive latency at each link's round-trip time.",
        value: |r| r.p99_ms,
        expected: false,
    },
    Spec {
        file: "sweep_rtt_requests.png",
        title: "Requests per message against RTT",
        y_desc: "HTTP requests per delivered message",
        caption: "Requests the clients sent per delivered message: a long poll answered every \
                  round trip carries more messages per request as the RTT grows; a short poll \
                  slowed to one per round trip sends fewer.",
        value: |r| r.requests_per_msg,
        expected: false,
    },
    Spec {
        file: "sweep_rtt_bytes.png",
        title: "Bytes per message against RTT",
        y_desc: "bytes read by the clients per delivered message",
        caption: "Bytes the clients read per delivered message (headers, framing and payload).",
        value: |r| r.bytes_down_per_msg,
        expected: false,
    },
];

/// Draws the RTT charts of `rows` into `dir`.
pub fn draw_all(rows: &[RttRow], dir: &Path) -> Result<Vec<Chart>, ReportError> {
    ensure_font().map_err(|message| ReportError::Chart {
        path: dir.to_path_buf(),
        message,
    })?;
    SPECS.iter().map(|s| draw(rows, dir, s)).collect()
}

/// The techniques of `rows`, in canonical order.
fn techniques(rows: &[RttRow]) -> Vec<String> {
    let mut names: Vec<String> = rows.iter().map(|r| r.technique.clone()).collect();
    names.sort_by_key(|n| colors::order_key(n));
    names.dedup();
    names
}

fn entries(names: &[String], spec: &Spec) -> Vec<Entry> {
    let mut v: Vec<Entry> = names
        .iter()
        .map(|n| (Mark::Line(colors::color(n)), colors::display_name(n)))
        .collect();
    if spec.expected {
        v.push((
            Mark::Dashed(BLACK, 3, 7),
            "expected p50 (dotted, darker)".into(),
        ));
        v.push((Mark::Cross(BLACK), "off the model".into()));
    }
    v
}

type Ctx<'a, 'b> = ChartContext<'a, BitMapBackend<'b>, Cartesian2d<TickAxis, TickAxis>>;

/// The expected-p50 line's colour: the technique's, darkened, so it shows on top of a
/// measured line that follows it.
fn darker(c: RGBColor) -> RGBColor {
    let d = |v: u8| (f64::from(v) * 0.5).round() as u8;
    RGBColor(d(c.0), d(c.1), d(c.2))
}

fn draw(rows: &[RttRow], dir: &Path, spec: &Spec) -> Result<Chart, ReportError> {
    let path = dir.join(spec.file);
    let e = |message: String| ReportError::Chart {
        path: path.clone(),
        message,
    };
    let names = techniques(rows);
    let x_max = rows.iter().map(|r| r.rtt_ms).fold(0.0, f64::max);
    let (x_ticks, x_top) = linear_ticks(x_max * 1.05);
    let mut y_max = rows.iter().filter_map(spec.value).fold(0.0, f64::max);
    if spec.expected {
        let exp = rows.iter().filter_map(|r| r.expected.map(|e| e.hi_ms));
        y_max = exp.fold(y_max, f64::max);
    }
    let (y_ticks, y_top) = linear_ticks(y_max * 1.1);
    let root = BitMapBackend::new(&path, (WIDTH, HEIGHT)).into_drawing_area();
    let body = legend::titled(&root, spec.title).map_err(&e)?;
    let area = legend::split(&body, &entries(&names, spec)).map_err(&e)?;
    let mut ctx = ChartBuilder::on(&area)
        .margin(16)
        .margin_right(40)
        .x_label_area_size(70)
        .y_label_area_size(130)
        .build_cartesian_2d(
            TickAxis::new(0.0, x_top, x_ticks),
            TickAxis::new(0.0, y_top, y_ticks),
        )
        .map_err(msg)
        .map_err(&e)?;
    ctx.configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(BLACK.mix(0.12))
        .x_desc("round-trip time of the subscribers' link (ms)")
        .y_desc(spec.y_desc)
        .axis_desc_style((FONT, 26))
        .label_style((FONT, 24))
        .x_label_formatter(&|x| fmt::tick(*x))
        .y_label_formatter(&|y| fmt::tick(*y))
        .draw()
        .map_err(msg)
        .map_err(&e)?;
    let n_lines = names.len() as u32;
    for (i, name) in names.iter().enumerate() {
        // Earlier lines are wider, so a line hidden under a later one shows as its rim.
        let width = 3 + 2 * (n_lines - 1 - i as u32).min(4);
        let mine: Vec<&RttRow> = rows.iter().filter(|r| &r.technique == name).collect();
        measured(&mut ctx, &mine, spec, colors::color(name), width).map_err(&e)?;
    }
    if spec.expected {
        for name in &names {
            let mine: Vec<&RttRow> = rows.iter().filter(|r| &r.technique == name).collect();
            expected(&mut ctx, &mine, darker(colors::color(name))).map_err(&e)?;
        }
    }
    crate::charts::present(&root, &path)?;
    Ok(Chart {
        file: spec.file.into(),
        title: spec.title.into(),
        caption: spec.caption.into(),
    })
}

/// One technique's measured line, its points, and crosses on the steps off the model.
fn measured(
    ctx: &mut Ctx<'_, '_>,
    mine: &[&RttRow],
    spec: &Spec,
    color: RGBColor,
    width: u32,
) -> Result<(), String> {
    let pts: Vec<(f64, f64, bool)> = mine
        .iter()
        .filter_map(|r| Some((r.rtt_ms, (spec.value)(r)?, r.flagged)))
        .collect();
    ctx.draw_series(LineSeries::new(
        pts.iter().map(|p| (p.0, p.1)),
        ShapeStyle::from(color).stroke_width(width),
    ))
    .map_err(msg)?;
    ctx.draw_series(
        pts.iter()
            .map(|p| Circle::new((p.0, p.1), 3 + width as i32, color.filled())),
    )
    .map_err(msg)?;
    if spec.expected {
        let crosses = pts
            .iter()
            .filter(|p| p.2)
            .map(|p| Cross::new((p.0, p.1), 14, ShapeStyle::from(BLACK).stroke_width(4)));
        ctx.draw_series(crosses).map_err(msg)?;
    }
    Ok(())
}

/// One technique's expected p50: a dotted line through the values (a range's middle), and a
/// bar spanning a range where the model gives one.
fn expected(ctx: &mut Ctx<'_, '_>, mine: &[&RttRow], color: RGBColor) -> Result<(), String> {
    let line: Vec<(f64, f64)> = mine
        .iter()
        .filter_map(|r| Some((r.rtt_ms, r.expected?.point_ms())))
        .collect();
    ctx.draw_series(DashedLineSeries::new(
        line,
        3,
        7,
        ShapeStyle::from(color).stroke_width(3),
    ))
    .map_err(msg)?;
    for r in mine {
        if let Some(e) = r.expected.filter(|e| e.is_range()) {
            ctx.draw_series(std::iter::once(PathElement::new(
                vec![(r.rtt_ms, e.lo_ms), (r.rtt_ms, e.hi_ms)],
                ShapeStyle::from(color).stroke_width(3),
            )))
            .map_err(msg)?;
        }
    }
    Ok(())
}
