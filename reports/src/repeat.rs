//! Runs measured with `pushbench run --repeat N`: each technique's figures are the medians of N
//! repetitions (each on a fresh server) and its `repetitions` entry holds every figure's min,
//! median and max ([`contract::run_dir::Repetitions`], docs/RUN_FORMAT.md). This module is the
//! one place the report reads those ranges: for the table cells (`median (min–max)`), the
//! charts' whiskers, the CSV's `_min`/`_max` columns and the claims, which call no difference
//! between two techniques whose ranges overlap.
//!
//! Figure names are those of `--check` (loadgen's `FIGURES`), in their base units: µs for
//! latency, s for CPU, bytes for memory, a bare number otherwise. `server_cpu_per_1m_s` (CPU
//! seconds per 10⁶ deliveries) equals the report's CPU ms per 1,000 messages.

use crate::model::{Run, TechniqueSummary};

/// Latency, median (µs).
pub const P50: &str = "p50";
/// Latency, 90th percentile (µs).
pub const P90: &str = "p90";
/// Latency, 99th percentile (µs).
pub const P99: &str = "p99";
/// Latency, 99.9th percentile (µs).
pub const P999: &str = "p999";
/// Latency, maximum (µs).
pub const MAX: &str = "max";
/// Messages lost.
pub const LOST: &str = "lost";
/// Distinct expected messages received.
pub const DELIVERED: &str = "delivered";
/// Errors of every kind.
pub const ERRORS: &str = "errors";
/// Requests per delivered message.
pub const REQUESTS_PER_MSG: &str = "requests_per_message";
/// Client bytes (both directions) per delivered message.
pub const BYTES_PER_MSG: &str = "bytes_per_message";
/// Server CPU seconds in the window.
pub const SERVER_CPU_S: &str = "server_cpu_s";
/// Server CPU seconds per 10⁶ deliveries = ms per 1,000.
pub const CPU_PER_1M: &str = "server_cpu_per_1m_s";
/// Server peak RSS (bytes).
pub const SERVER_RSS: &str = "server_rss";
/// (Peak − idle server RSS) / clients (bytes).
pub const RSS_PER_CLIENT: &str = "server_rss_per_client";

/// The columns `report/techniques.csv` gains when a run has repetitions, appended after the
/// usual ones: `repetitions`, then `<column>_min` and `<column>_max` of each (column, figure)
/// here, in the usual column's unit (the medians stay in the usual columns).
pub const CSV_RANGES: [(&str, &str); 12] = [
    ("delivered", DELIVERED),
    ("lost", LOST),
    ("latency_p50_us", P50),
    ("latency_p99_us", P99),
    ("latency_p999_us", P999),
    ("latency_max_us", MAX),
    ("requests_per_msg", REQUESTS_PER_MSG),
    ("bytes_per_msg", BYTES_PER_MSG),
    ("server_cpu_s", SERVER_CPU_S),
    ("server_cpu_ms_per_1k_msgs", CPU_PER_1M),
    ("server_rss_bytes", SERVER_RSS),
    ("server_rss_per_conn_bytes", RSS_PER_CLIENT),
];

/// The header of the columns [`CSV_RANGES`] adds, `repetitions` first.
pub fn csv_header() -> Vec<String> {
    std::iter::once("repetitions".to_string())
        .chain(
            CSV_RANGES
                .iter()
                .flat_map(|(c, _)| [format!("{c}_min"), format!("{c}_max")]),
        )
        .collect()
}

/// A technique's cells of those columns (empty: unknown, or a run of one), rounded to 6
/// decimals.
pub fn csv_cells(t: &TechniqueSummary) -> Vec<String> {
    let round = |v: f64| ((v * 1e6).round() / 1e6).to_string();
    std::iter::once(count(t).map(|n| n.to_string()).unwrap_or_default())
        .chain(CSV_RANGES.iter().flat_map(|(_, fig)| match range(t, fig) {
            Some((lo, hi)) => [round(lo), round(hi)],
            None => [String::new(), String::new()],
        }))
        .collect()
}

/// The min and max of figure `name` over a technique's repetitions, when both are known.
pub fn range(t: &TechniqueSummary, name: &str) -> Option<(f64, f64)> {
    let r = t.repetitions.as_ref()?.get(name)?;
    let (lo, hi) = (r.min?, r.max?);
    (lo.is_finite() && hi.is_finite()).then_some((lo.min(hi), lo.max(hi)))
}

/// How many repetitions measured this technique (`None`: a run of one).
pub fn count(t: &TechniqueSummary) -> Option<u64> {
    t.repetitions.as_ref().map(|r| r.count)
}

/// Whether any technique of any run has repetitions.
pub fn any(runs: &[Run]) -> bool {
    runs.iter()
        .any(|r| r.techniques.iter().any(|t| count(t).is_some()))
}

/// The number of repetitions of a run: `params.repeat`, else the most any technique had.
pub fn run_count(run: &Run) -> Option<u64> {
    let most = run.techniques.iter().filter_map(count).max();
    run.manifest
        .params
        .get("repeat")
        .and_then(serde_json::Value::as_u64)
        .filter(|n| *n > 1)
        .or(most)
}

/// `shown` followed by ` (min–max)` of figure `name` written by `f`, when a range exists.
pub fn cell(t: &TechniqueSummary, name: &str, shown: String, f: impl Fn(f64) -> String) -> String {
    match range(t, name) {
        Some((lo, hi)) => format!("{shown} ({}–{})", f(lo), f(hi)),
        None => shown,
    }
}

/// Whether the ranges of figure `name` of two techniques overlap, so that the repetitions do not
/// tell which is lower. `false` when either has no range (a single repetition decides alone).
pub fn overlap(a: &TechniqueSummary, b: &TechniqueSummary, name: &str) -> bool {
    match (range(a, name), range(b, name)) {
        (Some((a0, a1)), Some((b0, b1))) => a0 <= b1 && b0 <= a1,
        _ => false,
    }
}

/// The techniques of `ts` other than `best` whose range of figure `name` overlaps `best`'s:
/// over the repetitions, none of them is clearly above it.
pub fn overlapping<'a>(
    best: &TechniqueSummary,
    ts: &'a [TechniqueSummary],
    name: &str,
) -> Vec<&'a TechniqueSummary> {
    ts.iter()
        .filter(|t| t.technique != best.technique && overlap(best, t, name))
        .collect()
}

/// The sentence that says what a repeated run's figures are, or `None` for a run of one.
pub fn sentence(run: &Run) -> Option<String> {
    let n = run_count(run).filter(|_| run.techniques.iter().any(|t| count(t).is_some()))?;
    let short: Vec<String> = run
        .techniques
        .iter()
        .filter_map(|t| Some((t, count(t)?)))
        .filter(|(_, c)| *c < n)
        .map(|(t, c)| format!("{} {c}", crate::colors::display_name(t.technique.name())))
        .collect();
    let mut s =
        format!("Median of {n} repetitions, each on a fresh server; whiskers/ranges are min–max.");
    if !short.is_empty() {
        s += &format!(" Fewer repetitions measured: {}.", short.join(", "));
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(min: f64, max: f64) -> TechniqueSummary {
        serde_json::from_value(serde_json::json!({
            "technique": "sse",
            "repetitions": {"count": 3, "figures": {"p99": {"min": min, "median": min, "max": max}}}
        }))
        .unwrap()
    }

    #[test]
    fn ranges_and_overlap() {
        let (a, b, c) = (summary(1.0, 3.0), summary(2.0, 5.0), summary(4.0, 6.0));
        assert_eq!(range(&a, P99), Some((1.0, 3.0)));
        assert_eq!(range(&a, P50), None);
        assert!(overlap(&a, &b, P99));
        assert!(!overlap(&a, &c, P99));
        assert!(!overlap(&a, &b, P50));
        assert_eq!(cell(&a, P99, "2".into(), |v| v.to_string()), "2 (1–3)");
        assert_eq!(count(&a), Some(3));
    }
}
