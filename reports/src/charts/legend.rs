//! The legend, drawn in its own strip at the right of a chart so it never covers data.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{FONT, msg};
use crate::colors;

/// How an entry is marked.
#[derive(Debug, Clone)]
pub enum Mark {
    /// A solid line (a series).
    Line(RGBColor),
    /// A dashed line (a reference line, or a later run): colour, dash and gap in pixels.
    Dashed(RGBColor, u32, u32),
    /// A filled box (a bar colour).
    Box(RGBColor),
    /// A dot (a marked point).
    Dot(RGBColor),
    /// A cross (a flagged point).
    Cross(RGBColor),
    /// A short text (a run letter: "A = label").
    Tag(String),
}

/// One legend entry.
pub type Entry = (Mark, String);

const FONT_SIZE: u32 = 24;
const ROW: i32 = 40;
/// Longest text kept whole; longer texts are shortened with an ellipsis.
const MAX_CHARS: usize = 30;

/// One entry per run, "A = label", in comparison mode (none for one run).
pub fn runs(runs: &[crate::model::Run]) -> Vec<Entry> {
    if runs.len() < 2 {
        return Vec::new();
    }
    runs.iter()
        .enumerate()
        .map(|(i, r)| (Mark::Tag(super::run_letter(i)), r.label.clone()))
        .collect()
}

/// One box entry per technique, in its colour.
pub fn techniques(names: &[String]) -> Vec<Entry> {
    names
        .iter()
        .map(|n| (Mark::Box(colors::color(n)), colors::display_name(n)))
        .collect()
}

fn shorten(s: &str) -> String {
    if s.chars().count() <= MAX_CHARS {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(MAX_CHARS - 1).collect();
        t.push('…');
        t
    }
}

/// Draws `entries` in a strip at the right of `area` and returns the rest of the area.
pub fn split<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[Entry],
) -> Result<DrawingArea<DB, Shift>, String> {
    if entries.is_empty() {
        return Ok(area.clone());
    }
    let texts: Vec<String> = entries.iter().map(|(_, t)| shorten(t)).collect();
    let chars = texts.iter().map(|t| t.chars().count()).max().unwrap_or(0) as u32;
    let (w, _) = area.dim_in_pixel();
    let strip = (chars * 12 + 100).clamp(220, 480).min(w / 3);
    let (plot, side) = area.split_horizontally(w - strip);
    let top = 70;
    let height = ROW * entries.len() as i32 + 20;
    side.draw(&Rectangle::new(
        [(4, top - 10), (strip as i32 - 12, top + height - 10)],
        ShapeStyle::from(BLACK.mix(0.35)).stroke_width(1),
    ))
    .map_err(msg)?;
    let style =
        TextStyle::from((FONT, FONT_SIZE).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    for (i, ((mark, _), text)) in entries.iter().zip(&texts).enumerate() {
        let y = top + 14 + ROW * i as i32;
        match mark.clone() {
            Mark::Line(c) => side
                .draw(&PathElement::new(
                    vec![(16, y), (56, y)],
                    ShapeStyle::from(c).stroke_width(5),
                ))
                .map_err(msg)?,
            Mark::Dashed(c, dash, gap) => {
                let (dash, gap) = (dash.max(1) as i32, gap as i32);
                let mut x = 16;
                while x < 56 {
                    side.draw(&PathElement::new(
                        vec![(x, y), ((x + dash).min(56), y)],
                        ShapeStyle::from(c).stroke_width(5),
                    ))
                    .map_err(msg)?;
                    x += dash + gap;
                }
            }
            Mark::Dot(c) => side
                .draw(&Circle::new((36, y), 8, c.filled()))
                .map_err(msg)?,
            Mark::Cross(c) => side
                .draw(&Cross::new(
                    (36, y),
                    10,
                    ShapeStyle::from(c).stroke_width(4),
                ))
                .map_err(msg)?,
            Mark::Tag(t) => side
                .draw(&Text::new(
                    format!("{t} ="),
                    (18, y),
                    TextStyle::from((FONT, FONT_SIZE).into_font())
                        .pos(Pos::new(HPos::Left, VPos::Center)),
                ))
                .map_err(msg)?,
            Mark::Box(c) => side
                .draw(&Rectangle::new([(18, y - 11), (54, y + 11)], c.filled()))
                .map_err(msg)?,
        }
        side.draw(&Text::new(text.clone(), (68, y), style.clone()))
            .map_err(msg)?;
    }
    Ok(plot)
}

/// Fills `area` white, leaves a top margin, writes `title` and returns the area below it.
pub fn titled<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<DrawingArea<DB, Shift>, String> {
    area.fill(&WHITE).map_err(msg)?;
    let inner = area.margin(16, 6, 6, 6);
    inner.titled(title, (FONT, 40)).map_err(msg)
}
