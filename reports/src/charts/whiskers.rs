//! Min–max whiskers for runs measured with `--repeat N` ([`crate::repeat`]): a vertical line
//! from a figure's lowest to its highest value over the repetitions, with a short cap at each
//! end, drawn over a bar (the bar itself is the median) or over a point of the latency
//! spectrum. Charts of a run measured once draw none.

use plotters::element::PathElement;
use plotters::style::{Color, RGBColor, ShapeStyle};

/// The colour of a whisker over a bar: near-black, which reads on every technique's colour.
pub const ON_BAR: RGBColor = RGBColor(25, 25, 25);

/// A darker shade of a technique's colour, for a whisker beside its line.
pub fn shade(c: RGBColor) -> RGBColor {
    let d = |v: u8| (f64::from(v) * 0.6).round() as u8;
    RGBColor(d(c.0), d(c.1), d(c.2))
}

/// The whisker at `x` from `lo` to `hi` (axis coordinates), caps `cap` wide on either side,
/// in `color`.
pub fn whisker(
    x: f64,
    cap: f64,
    (lo, hi): (f64, f64),
    color: RGBColor,
) -> Vec<PathElement<(f64, f64)>> {
    let s = ShapeStyle::from(color.mix(0.9)).stroke_width(3);
    vec![
        PathElement::new(vec![(x, lo), (x, hi)], s),
        PathElement::new(vec![(x - cap, lo), (x + cap, lo)], s),
        PathElement::new(vec![(x - cap, hi), (x + cap, hi)], s),
    ]
}

/// The legend entry explaining the whiskers, for charts of a repeated run (none otherwise).
pub fn legend(runs: &[crate::model::Run]) -> Vec<super::legend::Entry> {
    if crate::repeat::any(runs) {
        vec![(
            super::legend::Mark::Line(ON_BAR),
            "min–max over repetitions".into(),
        )]
    } else {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whisker_is_a_line_and_two_caps() {
        let w = whisker(1.0, 0.1, (2.0, 5.0), ON_BAR);
        assert_eq!(w.len(), 3);
    }
}
