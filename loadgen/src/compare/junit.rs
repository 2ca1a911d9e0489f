//! The comparison as JUnit XML (`--junit FILE`), which CI systems show as test results: one
//! `<testcase>` per technique × figure (`classname` = technique, `name` = figure), a
//! `<failure>` on a regression, `<skipped>` where a figure was not measured.

use std::fmt::Write as _;

use super::judge::{Row, Verdict};
use super::text::{num, pct};

/// `s` escaped for XML text and attribute values (double-quoted); characters XML 1.0 does not
/// allow at all (control characters but tab and line breaks) are dropped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => {
                let _ = write!(out, "&#{};", c as u32);
            }
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// One sentence saying what a row found.
fn message(r: &Row) -> String {
    format!(
        "{} {}: {} -> {} {} ({}; threshold {:.0}%, spread {})",
        r.technique.name(),
        r.figure.name(),
        num(r.base),
        num(r.new),
        r.unit,
        pct(r.change_pct),
        r.threshold_pct,
        r.spread
            .pct
            .map_or("unknown".into(), |p| format!("±{p:.1}%"))
    )
}

/// The JUnit document.
pub fn junit(rows: &[Row]) -> String {
    let failures = rows
        .iter()
        .filter(|r| r.verdict == Verdict::Regression)
        .count();
    let skipped = rows
        .iter()
        .filter(|r| r.verdict == Verdict::NotMeasured)
        .count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"pushbench compare\" tests=\"{}\" failures=\"{failures}\">",
        rows.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"pushbench compare\" tests=\"{}\" failures=\"{failures}\" \
         errors=\"0\" skipped=\"{skipped}\">",
        rows.len()
    );
    for r in rows {
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"0\"",
            escape(r.technique.name()),
            escape(r.figure.name())
        );
        let msg = escape(&message(r));
        match r.verdict {
            Verdict::Regression => {
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{msg}\" type=\"regression\">{}</failure>\n    \
                     </testcase>",
                    escape(&format!("spread: {}", r.spread.how))
                );
            }
            Verdict::NotMeasured => {
                let _ = writeln!(
                    out,
                    ">\n      <skipped message=\"{msg}\"/>\n    </testcase>"
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    ">\n      <system-out>{msg}</system-out>\n    </testcase>"
                );
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_quotes_and_control_characters() {
        assert_eq!(
            escape("a<b>&\"c\" 'd'\u{1}\n"),
            "a&lt;b&gt;&amp;&quot;c&quot; &apos;d&apos;&#10;"
        );
        let doc = format!("<x a=\"{}\">{}</x>", escape("\"<&>'"), escape("]]> & <"));
        let parsed = roxmltree::Document::parse(&doc).unwrap();
        assert_eq!(parsed.root_element().attribute("a"), Some("\"<&>'"));
        assert_eq!(parsed.root_element().text(), Some("]]> & <"));
    }
}
