//! Checks (`pushbench run --check EXPR`, a scenario's `checks`): thresholds on a run's
//! per-technique figures, e.g. `sse.p99 < 50ms` or `*.lost == 0`. [`figures`] is the one table
//! of what a check can name, [`parse`] reads an expression, and [`judge`] gives each check's
//! verdict on a run's summaries, written to checks.json ([`contract::run_dir::checks`]) and
//! printed ([`line`]). A failed check makes `pushbench run` exit 5 (README, "Exit status").

pub mod figures;
pub mod parse;
#[cfg(test)]
mod tests;

use contract::run_dir::{CheckVerdict, TechniqueSummary};

use figures::Kind;
pub use parse::{Check, CheckError, Op, Target, parse, require_techniques};

/// The verdicts of `checks` on the techniques that ran (`summaries`), one per check and
/// technique, in the order given; a technique named but absent (cut short) is not measured.
pub fn judge(checks: &[Check], summaries: &[TechniqueSummary]) -> Vec<CheckVerdict> {
    let mut out = Vec::new();
    for c in checks {
        match c.target {
            Target::All => out.extend(summaries.iter().map(|s| verdict(c, s.technique, Some(s)))),
            Target::One(t) => {
                let s = summaries.iter().find(|s| s.technique == t);
                out.push(verdict(c, t, s));
            }
        }
    }
    out
}

fn verdict(
    c: &Check,
    technique: crate::technique::Technique,
    s: Option<&TechniqueSummary>,
) -> CheckVerdict {
    let f = c.figure;
    // With repetitions: judged on the median over them, the min–max shown beside it.
    let range = s
        .and_then(|s| s.repetitions.as_ref())
        .and_then(|r| Some((r.count, r.get(f.name)?)));
    let value = match range {
        Some((_, r)) => r.median,
        None => s.and_then(|s| (f.value)(s)),
    }
    .filter(|v| v.is_finite());
    let pass = value.is_some_and(|v| c.op.holds(v, c.threshold));
    let mut shown = value.map_or_else(|| "not measured".to_string(), |v| show(f.kind, v));
    if let (Some((n, r)), Some(_)) = (range, value) {
        if let (Some(lo), Some(hi)) = (r.min, r.max) {
            shown.push_str(&format!(
                ", median of {n}; min–max {}–{}",
                show(f.kind, lo),
                show(f.kind, hi)
            ));
        }
    }
    CheckVerdict {
        expr: c.expr.clone(),
        technique: technique.name().to_string(),
        figure: f.name.to_string(),
        value,
        unit: f.kind.base_unit().map(str::to_string),
        verdict: if pass { "pass" } else { "fail" }.to_string(),
        op: Some(c.op.symbol().to_string()),
        threshold: Some(c.threshold),
        detail: Some(format!("{} {shown}", f.name)),
        repetitions: range.map(|(n, _)| n),
        min: range.and_then(|(_, r)| r.min),
        max: range.and_then(|(_, r)| r.max),
    }
}

/// A figure's value (in its base unit) as a person reads it: `3.2 ms`, `12.0 MiB`, `0.9990`.
pub fn show(kind: Kind, v: f64) -> String {
    match kind {
        Kind::Duration if v < 1e3 => format!("{v:.0} µs"),
        Kind::Duration if v < 1e6 => format!("{:.1} ms", v / 1e3),
        Kind::Duration => format!("{:.2} s", v / 1e6),
        Kind::Seconds => format!("{v:.3} s"),
        Kind::Size if v < 1024.0 => format!("{v:.0} B"),
        Kind::Size if v < 1024.0 * 1024.0 => format!("{:.1} KiB", v / 1024.0),
        Kind::Size => format!("{:.1} MiB", v / (1024.0 * 1024.0)),
        Kind::Number if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v:.0}"),
        Kind::Number => format!("{v:.4}"),
    }
}

/// The printed line of one verdict: `check sse.p99 < 50ms: pass (p99 3.2 ms)`; a `*` check
/// names its technique: `check *.lost == 0 [ws]: pass (lost 0)`.
pub fn line(v: &CheckVerdict) -> String {
    let which = if v.expr.trim_start().starts_with('*') {
        format!(" [{}]", v.technique)
    } else {
        String::new()
    };
    format!(
        "check {}{which}: {} ({})",
        v.expr,
        v.verdict,
        v.detail.as_deref().unwrap_or("")
    )
}

/// `3 checks: 2 passed, 1 failed (sse.p50 < 1us)`.
pub fn tally(verdicts: &[CheckVerdict]) -> String {
    let failed: Vec<String> = verdicts
        .iter()
        .filter(|v| !v.passed())
        .map(|v| match v.expr.trim_start().starts_with('*') {
            true => format!("{} [{}]", v.expr, v.technique),
            false => v.expr.clone(),
        })
        .collect();
    let mut s = format!(
        "{} checks: {} passed, {} failed",
        verdicts.len(),
        verdicts.len() - failed.len(),
        failed.len()
    );
    if !failed.is_empty() {
        s.push_str(&format!(" ({})", failed.join(", ")));
    }
    s
}
