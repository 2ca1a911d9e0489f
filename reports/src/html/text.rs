//! Text in a page: escaped for HTML ([`esc`]), and a technique's name with its colour
//! ([`swatch`]), shared by the run report, the sweep page and the plan page.

use crate::colors;

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A technique's name with its colour swatch.
pub fn swatch(technique: &str) -> String {
    format!(
        "<span class=\"sw\" style=\"background:{}\"></span>{}",
        colors::hex(technique),
        esc(&colors::display_name(technique))
    )
}
