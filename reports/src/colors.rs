//! One colour and one display name per technique, used by every chart and by the page, so a
//! technique looks the same everywhere. The palette is Okabe and Ito's, safe for the common
//! forms of colour blindness.

use plotters::style::RGBColor;

/// The techniques in their canonical order (the order the load generator runs them).
pub const ORDER: [&str; 5] = ["poll", "long-poll", "stream", "sse", "ws"];

/// The colour of a technique on every chart.
pub fn color(technique: &str) -> RGBColor {
    match technique {
        "poll" => RGBColor(213, 94, 0),       // vermillion
        "long-poll" => RGBColor(230, 159, 0), // orange
        "stream" => RGBColor(0, 158, 115),    // bluish green
        "sse" => RGBColor(0, 114, 178),       // blue
        "ws" => RGBColor(204, 121, 167),      // reddish purple
        other => {
            // A stable colour for techniques this crate does not know yet.
            const SPARE: [RGBColor; 3] = [
                RGBColor(86, 180, 233),
                RGBColor(120, 120, 120),
                RGBColor(150, 110, 40),
            ];
            let sum: usize = other.bytes().map(usize::from).sum();
            SPARE[sum % SPARE.len()]
        }
    }
}

/// The colour as `#rrggbb` for the page.
pub fn hex(technique: &str) -> String {
    let RGBColor(r, g, b) = color(technique);
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// `c` mixed with white: `amount` 0 keeps it, 1 gives white.
pub fn tint(c: RGBColor, amount: f64) -> RGBColor {
    let mix = |v: u8| (f64::from(v) + (255.0 - f64::from(v)) * amount).round() as u8;
    RGBColor(mix(c.0), mix(c.1), mix(c.2))
}

/// What people call the technique.
pub fn display_name(technique: &str) -> String {
    match technique {
        "poll" => "short poll".into(),
        "long-poll" => "long poll".into(),
        "stream" => "HTTP stream".into(),
        "sse" => "SSE".into(),
        "ws" => "WebSocket".into(),
        other => other.into(),
    }
}

/// Sort key putting known techniques in canonical order, unknown ones after (by name).
pub fn order_key(technique: &str) -> (usize, String) {
    let i = ORDER
        .iter()
        .position(|t| *t == technique)
        .unwrap_or(ORDER.len());
    (i, technique.to_string())
}
