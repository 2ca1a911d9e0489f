//! The verdict of every technique × figure: the base and new values (medians over each side's
//! runs), the change, the threshold, the spread, and whether it is a regression: a change in
//! the worse direction larger than both the threshold and the spread (a count going from 0 to
//! more than 0 always is).

use contract::run_dir::Technique;
use reports::Run;

use super::figures::{Figure, Thresholds};
use super::spread::{Spread, median, spread};

/// What a change amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Within the threshold.
    Ok,
    /// Better by more than the threshold and the spread.
    Improved,
    /// Worse by more than the threshold, but not by more than the spread.
    WithinNoise,
    /// Worse by more than the threshold and the spread.
    Regression,
    /// Unknown on one side (a figure the run lacks, a technique missing from one run).
    NotMeasured,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Improved => "improved",
            Verdict::WithinNoise => "within noise",
            Verdict::Regression => "REGRESSION",
            Verdict::NotMeasured => "not measured",
        }
    }
}

/// One line of the comparison.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    pub technique: Technique,
    pub figure: Figure,
    pub unit: &'static str,
    pub base: Option<f64>,
    pub new: Option<f64>,
    /// (new − base) / base, %; ±infinity from a base of 0; `None` when either is unknown.
    pub change_pct: Option<f64>,
    pub threshold_pct: f64,
    pub spread: Spread,
    pub verdict: Verdict,
}

/// The techniques in the order the base ran them, then any only the new runs have.
fn techniques(base: &[Run], new: &[Run]) -> Vec<Technique> {
    let mut out: Vec<Technique> = Vec::new();
    for run in base.iter().chain(new) {
        for t in &run.techniques {
            if !out.contains(&t.technique) {
                out.push(t.technique);
            }
        }
    }
    out
}

/// The value of `figure` for `t` in each run that has it.
fn values<'a>(runs: impl IntoIterator<Item = &'a Run>, t: Technique, figure: Figure) -> Vec<f64> {
    runs.into_iter()
        .filter_map(|r| {
            let s = r.techniques.iter().find(|s| s.technique == t)?;
            figure.value(r, s)
        })
        .collect()
}

/// What each side's run-to-run spread is measured over: its runs, or, for a run made with
/// `run --repeat`, its repetitions (`across` names which, for the footnote).
#[derive(Debug)]
pub struct Samples<'a> {
    pub base: Vec<&'a Run>,
    pub new: Vec<&'a Run>,
    /// `runs` or `repetitions`.
    pub across: &'static str,
}

/// Every row: techniques × [`Figure::ALL`]. The compared value is the median over each side's
/// runs (a repeated run's own: its merged histogram's p50/p99, its medians otherwise); the
/// spread is taken over `samples`.
pub fn compare(base: &[Run], new: &[Run], samples: &Samples, thresholds: &Thresholds) -> Vec<Row> {
    let mut rows = Vec::new();
    for t in techniques(base, new) {
        for figure in Figure::ALL {
            let bv = values(base, t, figure);
            let nv = values(new, t, figure);
            let sb = values(samples.base.iter().copied(), t, figure);
            let sn = values(samples.new.iter().copied(), t, figure);
            let spread = spread(figure, t, (base, &sb), (new, &sn), samples.across);
            rows.push(row(
                t,
                figure,
                median(&bv),
                median(&nv),
                thresholds.get(figure),
                spread,
            ));
        }
    }
    rows
}

fn row(
    technique: Technique,
    figure: Figure,
    base: Option<f64>,
    new: Option<f64>,
    threshold_pct: f64,
    spread: Spread,
) -> Row {
    let change_pct = match (base, new) {
        (Some(b), Some(n)) if b != 0.0 => Some((n - b) / b.abs() * 100.0),
        (Some(b), Some(n)) if b == n => Some(0.0),
        // From 0: infinitely large (JSON: null; the table says "from 0").
        (Some(_), Some(n)) => Some(f64::INFINITY.copysign(n)),
        _ => None,
    };
    let verdict = verdict(figure, base, new, change_pct, threshold_pct, spread.pct);
    Row {
        technique,
        figure,
        unit: figure.unit(),
        base,
        new,
        change_pct,
        threshold_pct,
        spread,
        verdict,
    }
}

fn verdict(
    figure: Figure,
    base: Option<f64>,
    new: Option<f64>,
    change_pct: Option<f64>,
    threshold: f64,
    spread: Option<f64>,
) -> Verdict {
    let (Some(b), Some(n)) = (base, new) else {
        return Verdict::NotMeasured;
    };
    let worse_up = figure.higher_is_worse();
    // The change in the worse direction (from 0: infinitely large).
    let worse = change_pct.map_or(0.0, |c| if worse_up { c } else { -c });
    if figure.is_count() && b == 0.0 && n > 0.0 {
        return Verdict::Regression;
    }
    let noise = spread.unwrap_or(0.0);
    if worse > threshold {
        if worse > noise {
            Verdict::Regression
        } else {
            Verdict::WithinNoise
        }
    } else if -worse > threshold && -worse > noise {
        Verdict::Improved
    } else {
        Verdict::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(figure: Figure, b: f64, n: f64, spread: Option<f64>) -> Verdict {
        let s = Spread {
            pct: spread,
            how: String::new(),
        };
        row(Technique::Sse, figure, Some(b), Some(n), 10.0, s).verdict
    }

    #[test]
    fn verdicts_follow_direction_threshold_and_spread() {
        assert_eq!(v(Figure::P99, 10.0, 13.0, Some(2.0)), Verdict::Regression);
        assert_eq!(v(Figure::P99, 10.0, 13.0, Some(40.0)), Verdict::WithinNoise);
        assert_eq!(v(Figure::P99, 10.0, 10.5, None), Verdict::Ok);
        assert_eq!(v(Figure::P99, 10.0, 7.0, Some(5.0)), Verdict::Improved);
        assert_eq!(
            v(Figure::Throughput, 100.0, 70.0, Some(5.0)),
            Verdict::Regression
        );
        assert_eq!(
            v(Figure::Throughput, 100.0, 130.0, Some(5.0)),
            Verdict::Improved
        );
        assert_eq!(v(Figure::Lost, 0.0, 1.0, None), Verdict::Regression);
        assert_eq!(v(Figure::Errors, 0.0, 0.0, None), Verdict::Ok);
        assert_eq!(
            v(Figure::RequestsPerMessage, 0.0, 0.5, None),
            Verdict::Regression
        );
        assert_eq!(v(Figure::Lost, 5.0, 0.0, None), Verdict::Improved);
        let s = Spread {
            pct: None,
            how: String::new(),
        };
        let r = row(Technique::Ws, Figure::P50, None, Some(1.0), 10.0, s);
        assert_eq!(r.verdict, Verdict::NotMeasured);
    }
}
