//! The run-to-run spread of a figure: how far it moves between runs of the same workload, as
//! a percentage of its value. A change is a regression only when it is larger than this.
//!
//! - Several runs of a side (several `--base`/`--new` directories, later `--repeat`): the
//!   min–max range of the figure across them, over their median.
//! - One run per side: estimated from within the run, from its per-second rows of
//!   timeseries.csv in the steady state: 2·sd/√n of the per-second values over their mean (the
//!   uncertainty of a mean of n independent seconds, about a 95 % interval), the larger of the
//!   two runs'. timeseries.csv has a per-second p99 but no p50: p50 uses the p99 series (which
//!   moves more, so this errs towards calling a change noise).
//! - Counts (lost, errors) have none: they are exact.

use contract::run_dir::{Technique, TimeseriesRow};
use reports::Run;

use super::figures::Figure;

/// A spread and how it was obtained.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Spread {
    /// %, `None` when it could not be estimated (the threshold alone then decides).
    pub pct: Option<f64>,
    /// How it was obtained, for the table's footnote.
    pub how: String,
}

/// The min–max spread of `values` (one per run) over their median, %.
pub fn range_pct(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        });
    let mid = median(values)?;
    (mid.abs() > 0.0).then(|| (hi - lo) / mid.abs() * 100.0)
}

/// The median of `values` (`None` when empty).
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

/// 2·sd/√n over the mean of `values`, %; `None` with fewer than 3 values or a zero mean.
pub fn within_pct(values: &[f64]) -> Option<f64> {
    let n = values.len();
    if n < 3 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if mean.abs() <= 0.0 {
        return None;
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    Some(2.0 * var.sqrt() / (n as f64).sqrt() / mean.abs() * 100.0)
}

/// The per-second values of `figure` for technique `t` in `run`'s steady state.
fn per_second(run: &Run, t: Technique, figure: Figure) -> Vec<f64> {
    let per_msg = |r: &TimeseriesRow, x: Option<f64>| match (x, r.delivered_per_s) {
        (Some(x), Some(d)) if d > 0.0 => Some(x / d),
        _ => None,
    };
    run.timeseries
        .iter()
        .filter(|r| r.technique == t && r.phase.as_deref() == Some("steady"))
        .filter_map(|r| match figure {
            Figure::P50 | Figure::P99 => r.latency_p99_us.map(|v| v as f64),
            Figure::Throughput => r.delivered_per_s,
            Figure::ServerCpu => per_msg(r, r.server_cpu_s),
            Figure::ServerRss => r.server_rss_bytes.map(|v| v as f64),
            Figure::BytesPerMessage => {
                let both = r.bytes_down_per_s.zip(r.bytes_up_per_s).map(|(d, u)| d + u);
                per_msg(r, both)
            }
            Figure::RequestsPerMessage => per_msg(r, r.requests_per_s),
            Figure::Lost | Figure::Errors => None,
        })
        .collect()
}

/// The spread of `figure` for technique `t`, from the base runs and the new runs, with their
/// values of the figure given: one per run, or per repetition (`across` says which).
pub fn spread(
    figure: Figure,
    t: Technique,
    (base, base_values): (&[Run], &[f64]),
    (new, new_values): (&[Run], &[f64]),
    across: &str,
) -> Spread {
    if figure.is_count() {
        return Spread {
            pct: None,
            how: "none: an exact count".into(),
        };
    }
    if base_values.len() > 1 || new_values.len() > 1 {
        let pct = [range_pct(base_values), range_pct(new_values)]
            .into_iter()
            .flatten()
            .reduce(f64::max);
        return Spread {
            pct,
            how: format!(
                "min–max across {across} ({} base, {} new)",
                base_values.len(),
                new_values.len()
            ),
        };
    }
    let sides: Vec<Vec<f64>> = base
        .iter()
        .chain(new)
        .map(|r| per_second(r, t, figure))
        .collect();
    let pct = sides.iter().filter_map(|v| within_pct(v)).reduce(f64::max);
    let n = sides.iter().map(Vec::len).min().unwrap_or(0);
    let series = match figure {
        Figure::P50 => "per-second p99 (no per-second p50 is recorded)",
        Figure::P99 => "per-second p99",
        _ => "per-second values",
    };
    Spread {
        pct,
        how: match pct {
            Some(_) => format!("within-run: 2·sd/√n of {series} over ≥{n} steady seconds"),
            None => "unknown: one run per side, too few steady seconds or a zero mean".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_median_and_within_run_spread() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(range_pct(&[90.0, 100.0, 110.0]), Some(20.0));
        assert_eq!(range_pct(&[100.0]), None);
        assert_eq!(within_pct(&[5.0, 5.0, 5.0, 5.0]), Some(0.0));
        // sd 1, n 4, mean 10: 2·1/2/10 = 10 %.
        let w = within_pct(&[9.0, 11.0, 9.0, 11.0]).unwrap();
        assert!((w - 2.0 * (4.0f64 / 3.0).sqrt() / 2.0 / 10.0 * 100.0).abs() < 1e-9);
        assert_eq!(within_pct(&[1.0, 2.0]), None);
    }
}
