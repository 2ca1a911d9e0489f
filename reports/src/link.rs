//! The emulated link a run or a sweep step was measured over, as the report reads it back:
//! from a label (`rtt=100ms,jitter=10ms,down=1.6mbit`, a bare delay, a preset name such as
//! `fast-3g`, or `none`; docs/NETWORK.md), or from a numeric field when the writer gave one.
//!
//! Reading is lenient, as for every run-directory field: a missing, unreadable or `none`
//! link is "no link" (`None`), never an error, so an older run still gets its report. The
//! presets' numbers are repeated here because this crate cannot depend on the load generator
//! (which depends on it); `loadgen/tests/link_labels_report.rs` checks that every preset and
//! canonical label reads back here with the numbers the load generator used.

use serde_json::{Map, Value};

/// The numbers of a link that shape the expected latency.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkInfo {
    /// The label as written (a preset name or the canonical form).
    pub label: String,
    /// Round-trip time, ms.
    pub rtt_ms: f64,
    /// Largest extra one-way delay per segment, ms (0 without jitter).
    pub jitter_ms: f64,
    /// Bandwidth server to client, bits per second (`None`: unlimited or unknown).
    pub down_bps: Option<f64>,
}

/// A preset: name, RTT (ms), down and up (kbit/s). Mirrors `loadgen::link::presets::PRESETS`.
pub const PRESETS: [(&str, f64, f64, f64); 6] = [
    ("slow-3g", 400.0, 400.0, 400.0),
    ("fast-3g", 150.0, 1440.0, 675.0),
    ("slow-4g", 150.0, 1440.0, 675.0),
    ("fast-4g", 60.0, 8100.0, 1350.0),
    ("dsl", 50.0, 1500.0, 384.0),
    ("satellite", 600.0, 25_000.0, 3_000.0),
];

/// Reads a link label. `None` for `none`, `off`, `0`, an empty label, or a label this reader
/// cannot make out (an unknown key or preset: no link is assumed rather than a wrong one).
pub fn parse_label(label: &str) -> Option<LinkInfo> {
    let lower = label.trim().to_ascii_lowercase();
    if matches!(lower.as_str(), "" | "none" | "off" | "0") {
        return None;
    }
    let mut info = LinkInfo {
        label: label.trim().to_string(),
        rtt_ms: 0.0,
        jitter_ms: 0.0,
        down_bps: None,
    };
    for item in lower.split(',').map(str::trim) {
        match item.split_once('=') {
            Some(("rtt", v)) => info.rtt_ms = delay_ms(v.trim())?,
            Some(("jitter", v)) => info.jitter_ms = delay_ms(v.trim())?,
            Some(("down", v)) => info.down_bps = Some(rate_bps(v.trim())?),
            Some(("up", v)) => {
                rate_bps(v.trim())?;
            }
            Some(_) => return None,
            None => match PRESETS.iter().find(|p| p.0 == item) {
                Some(p) => {
                    info.rtt_ms = p.1;
                    info.down_bps = Some(p.2 * 1000.0);
                }
                None => info.rtt_ms = delay_ms(item)?,
            },
        }
    }
    Some(info)
}

/// `100ms`, `1.5s`, `250us`, `0` → ms.
fn delay_ms(v: &str) -> Option<f64> {
    if v == "0" {
        return Some(0.0);
    }
    let (num, scale) = if let Some(n) = v.strip_suffix("us") {
        (n, 1e-3)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1e3)
    } else {
        return None;
    };
    let x: f64 = num.trim().parse().ok()?;
    (x.is_finite() && x >= 0.0).then_some(x * scale)
}

/// `1.6mbit`, `750kbit`, `100kbyte` → bits per second.
fn rate_bps(v: &str) -> Option<f64> {
    const UNITS: [(&str, f64); 8] = [
        ("gbyte", 8e9),
        ("mbyte", 8e6),
        ("kbyte", 8e3),
        ("byte", 8.0),
        ("gbit", 1e9),
        ("mbit", 1e6),
        ("kbit", 1e3),
        ("bit", 1.0),
    ];
    let (num, scale) = UNITS
        .iter()
        .find_map(|(u, s)| v.strip_suffix(u).map(|n| (n, *s)))?;
    let x: f64 = num.trim().parse().ok()?;
    (x.is_finite() && x > 0.0).then_some(x * scale)
}

/// The link a run's subscribers were on, from its manifest `params`: `link` as a label, or as
/// an object with a numeric `rtt_ms` (and optional `label`, `jitter_ms`, `down_bps`); a
/// numeric `link_rtt_ms` beside it overrides the label's RTT. `None`: no link.
pub fn from_params(params: &Map<String, Value>) -> Option<LinkInfo> {
    link_value(params.get("link")?, params.get("link_rtt_ms"))
}

/// The publisher's link, from `params.publisher_link` (same forms as [`from_params`]).
pub fn publisher_from_params(params: &Map<String, Value>) -> Option<LinkInfo> {
    link_value(
        params.get("publisher_link")?,
        params.get("publisher_link_rtt_ms"),
    )
}

/// A publisher link out of a sweep's `run_params` (a JSON object, or anything else: none).
pub fn publisher_from_value(run_params: &Value) -> Option<LinkInfo> {
    run_params.as_object().and_then(publisher_from_params)
}

fn link_value(v: &Value, rtt_override: Option<&Value>) -> Option<LinkInfo> {
    let mut info = match v {
        Value::String(s) => parse_label(s),
        Value::Object(o) => {
            let label = o.get("label").and_then(Value::as_str).unwrap_or("");
            let mut info = parse_label(label).unwrap_or(LinkInfo {
                label: label.to_string(),
                rtt_ms: 0.0,
                jitter_ms: 0.0,
                down_bps: None,
            });
            if let Some(r) = o.get("rtt_ms").and_then(Value::as_f64) {
                info.rtt_ms = r;
            }
            if let Some(j) = o.get("jitter_ms").and_then(Value::as_f64) {
                info.jitter_ms = j;
            }
            if let Some(d) = o.get("down_bps").and_then(Value::as_f64) {
                info.down_bps = Some(d);
            }
            Some(info)
        }
        _ => None,
    }?;
    if let Some(r) = rtt_override.and_then(Value::as_f64) {
        info.rtt_ms = r;
    }
    let nothing = info.rtt_ms <= 0.0 && info.jitter_ms <= 0.0 && info.down_bps.is_none();
    (!nothing && info.rtt_ms.is_finite() && info.rtt_ms >= 0.0).then_some(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_back() {
        assert_eq!(parse_label("none"), None);
        assert_eq!(parse_label("0"), None);
        let l = parse_label("rtt=100ms,jitter=10ms,down=1.6mbit,up=750kbit").unwrap();
        assert_eq!(
            (l.rtt_ms, l.jitter_ms, l.down_bps),
            (100.0, 10.0, Some(1.6e6))
        );
        assert_eq!(parse_label("1.5s").unwrap().rtt_ms, 1500.0);
        assert_eq!(parse_label("rtt=250us").unwrap().rtt_ms, 0.25);
        let p = parse_label("fast-3g,jitter=20ms").unwrap();
        assert_eq!(
            (p.rtt_ms, p.jitter_ms, p.down_bps),
            (150.0, 20.0, Some(1.44e6))
        );
        assert_eq!(parse_label("down=1mbyte").unwrap().down_bps, Some(8e6));
        // Unknown keys and presets read as no link, not as a wrong one.
        assert_eq!(parse_label("rtt=100ms,loss=1%"), None);
        assert_eq!(parse_label("moon"), None);
    }

    #[test]
    fn params_prefer_numbers() {
        let p = |v: Value| from_params(v.as_object().unwrap());
        assert_eq!(p(serde_json::json!({})), None);
        assert_eq!(p(serde_json::json!({"link": "none"})), None);
        assert_eq!(
            p(serde_json::json!({"link": "rtt=200ms"})).unwrap().rtt_ms,
            200.0
        );
        let o = serde_json::json!({"link": {"label": "fast-3g", "rtt_ms": 151.0}});
        assert_eq!(p(o).unwrap().rtt_ms, 151.0);
        let over = serde_json::json!({"link": "satellite", "link_rtt_ms": 610.0});
        assert_eq!(p(over).unwrap().rtt_ms, 610.0);
        let pubs = serde_json::json!({"publisher_link": "rtt=40ms"});
        assert_eq!(publisher_from_value(&pubs).unwrap().rtt_ms, 40.0);
        assert_eq!(publisher_from_value(&Value::Null), None);
    }
}
