//! `run --repeat N`: one technique's summaries from each repetition combined into the
//! top-level one (docs/RUN_FORMAT.md, "Repetitions"): every numeric figure the median over
//! the repetitions that measured it (counts rounded), `repetitions` holding each figure's
//! min, median and max (the figures of [`crate::check::figures::FIGURES`], computed by its
//! `value` functions, so a check and this range are one definition), and `failure` naming the
//! repetitions that failed.
//!
//! The median is taken field by field over the summaries' JSON form, so a figure added to
//! [`TechniqueSummary`] later is combined without a line here.

use std::collections::BTreeMap;

use contract::run_dir::{Range, Repetitions, TechniqueSummary};
use serde_json::{Map, Value};

use crate::check::figures::FIGURES;

/// The median of `values` (`None` when there is none).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The min, median and max of `values` (all `None` when there is none).
pub fn range(values: &[f64]) -> Range {
    let finite: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    Range {
        min: finite.iter().copied().reduce(f64::min),
        median: median(&finite),
        max: finite.iter().copied().reduce(f64::max),
    }
}

/// Every check figure's range over `summaries` (one per repetition).
pub fn repetitions(summaries: &[&TechniqueSummary]) -> Repetitions {
    let figures = FIGURES
        .iter()
        .map(|f| {
            let values: Vec<f64> = summaries.iter().filter_map(|s| (f.value)(s)).collect();
            (f.name.to_string(), range(&values))
        })
        .collect::<BTreeMap<_, _>>();
    Repetitions {
        count: summaries.len() as u64,
        figures,
    }
}

/// The combined summary of one technique from its repetitions' summaries, each with its
/// repetition number (from 1). Skipped in every repetition: skipped. A repetition's failure
/// is named in the combined `failure`.
pub fn combine(reps: &[(u32, TechniqueSummary)]) -> Option<TechniqueSummary> {
    let (_, first) = reps.first()?;
    let measured: Vec<&TechniqueSummary> = reps
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s.skipped.is_none())
        .collect();
    if measured.is_empty() {
        return Some(first.clone());
    }
    let values: Vec<Value> = measured
        .iter()
        .filter_map(|s| serde_json::to_value(s).ok())
        .collect();
    let refs: Vec<&Value> = values.iter().collect();
    let merged = median_value(&refs, false);
    let mut out: TechniqueSummary =
        serde_json::from_value(merged).unwrap_or_else(|_| measured[0].clone());
    let failures: Vec<String> = reps
        .iter()
        .filter_map(|(k, s)| Some(format!("repetition {k}: {}", s.failure.as_deref()?)))
        .collect();
    out.failure = (!failures.is_empty()).then(|| failures.join("; "));
    out.skipped = None;
    out.repetitions = Some(repetitions(&measured));
    Some(out)
}

/// The median of the JSON values at one place of several summaries: numbers → their median
/// (a median of integers rounded to one), objects → key by key (`missing_zero`: a key some
/// lack counts 0 there, as in `errors`), anything else → the first one given. Nulls are
/// skipped; all null → null.
fn median_value(values: &[&Value], missing_zero: bool) -> Value {
    let present: Vec<&Value> = values.iter().copied().filter(|v| !v.is_null()).collect();
    let Some(first) = present.first() else {
        return Value::Null;
    };
    if present.iter().all(|v| v.is_number()) {
        let nums: Vec<f64> = present.iter().filter_map(|v| v.as_f64()).collect();
        let Some(m) = median(&nums) else {
            return Value::Null;
        };
        return if present.iter().all(|v| v.is_u64()) {
            Value::from(m.round() as u64)
        } else {
            Value::from((m * 1e6).round() / 1e6)
        };
    }
    if present.iter().all(|v| v.is_object()) {
        let mut keys: Vec<&String> = Vec::new();
        for v in &present {
            for k in v.as_object().into_iter().flat_map(Map::keys) {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        let zero = Value::from(0u64);
        let mut out = Map::new();
        for k in keys {
            let at: Vec<&Value> = present
                .iter()
                .filter_map(|v| match v.get(k) {
                    Some(x) => Some(x),
                    None if missing_zero => Some(&zero),
                    None => None,
                })
                .collect();
            out.insert(k.clone(), median_value(&at, k == "errors"));
        }
        return Value::Object(out);
    }
    (*first).clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use contract::run_dir::Technique;

    fn summary(p99: u64, delivered: u64, cpu: f64, errors: &[(&str, u64)]) -> TechniqueSummary {
        let mut s = TechniqueSummary::skipped(Technique::Sse, "");
        s.skipped = None;
        s.latency_us.count = Some(delivered);
        s.latency_us.p99 = Some(p99);
        s.latency_us.mean = Some(p99 as f64 / 2.0);
        s.delivered = Some(delivered);
        s.expected = Some(100);
        s.server_cpu_s = Some(cpu);
        s.errors = errors.iter().map(|(k, n)| (k.to_string(), *n)).collect();
        s
    }

    #[test]
    fn every_figure_is_the_median_and_the_range_is_min_to_max() {
        let reps = vec![
            (1, summary(300, 90, 0.5, &[("timeout", 2)])),
            (2, summary(100, 100, 0.25, &[])),
            (3, summary(200, 95, 0.125, &[("timeout", 1), ("reset", 4)])),
        ];
        let c = combine(&reps).unwrap();
        assert_eq!((c.latency_us.p99, c.delivered), (Some(200), Some(95)));
        assert_eq!(
            (c.latency_us.mean, c.server_cpu_s),
            (Some(100.0), Some(0.25))
        );
        assert_eq!(c.errors.get("timeout"), Some(&1));
        assert_eq!(c.errors.get("reset"), Some(&0));
        assert_eq!(
            (c.expected, c.clients, c.failure.as_deref()),
            (Some(100), None, None)
        );
        let r = c.repetitions.unwrap();
        assert_eq!(r.count, 3);
        let p99 = r.get("p99").unwrap();
        assert_eq!(
            (p99.min, p99.median, p99.max),
            (Some(100.0), Some(200.0), Some(300.0))
        );
        let ratio = r.get("delivered_ratio").unwrap();
        assert_eq!((ratio.min, ratio.max), (Some(0.9), Some(1.0)));
    }

    #[test]
    fn an_even_count_averages_rounds_counts_and_names_failures() {
        let mut b = summary(101, 10, 1.0, &[]);
        b.failure = Some("server died".into());
        let c = combine(&[(1, summary(100, 11, 2.0, &[])), (2, b)]).unwrap();
        assert_eq!((c.latency_us.p99, c.delivered), (Some(101), Some(11)));
        assert_eq!(c.server_cpu_s, Some(1.5));
        assert_eq!(c.failure.as_deref(), Some("repetition 2: server died"));
        let skipped = TechniqueSummary::skipped(Technique::Ws, "not offered");
        let c = combine(&[(1, skipped.clone()), (2, skipped)]).unwrap();
        assert_eq!(
            (c.skipped.as_deref(), c.repetitions),
            (Some("not offered"), None)
        );
        assert!(combine(&[]).is_none());
    }
}
