//! The expression of a check: `TECHNIQUE.FIGURE OP THRESHOLD[UNIT]`, e.g. `sse.p99 < 50ms`,
//! `*.lost == 0`, `long-poll.requests_per_message <= 1.1`; every way it can be wrong is one
//! [`CheckError`] naming the problem.

use std::fmt;
use std::str::FromStr;

use super::figures::{self, Figure, Kind};
use crate::technique::Technique;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    /// Longest first, so `<=` is not read as `<`.
    const ALL: [(&'static str, Op); 6] = [
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];

    pub fn symbol(self) -> &'static str {
        Op::ALL
            .iter()
            .find(|(_, o)| *o == self)
            .map_or("?", |(s, _)| s)
    }

    /// Whether `value OP threshold` holds.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Op::Lt => value < threshold,
            Op::Le => value <= threshold,
            Op::Gt => value > threshold,
            Op::Ge => value >= threshold,
            Op::Eq => value == threshold,
            Op::Ne => value != threshold,
        }
    }
}

/// Which techniques a check judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    One(Technique),
    /// `*`: every technique that ran.
    All,
}

/// A parsed check.
#[derive(Debug, Clone)]
pub struct Check {
    /// The expression as written (trimmed).
    pub expr: String,
    pub target: Target,
    pub figure: &'static Figure,
    pub op: Op,
    /// In the figure's base unit ([`Kind::base_unit`]).
    pub threshold: f64,
}

/// Why an expression is not a check.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CheckError {
    #[error("empty check; write e.g. `sse.p99 < 50ms`")]
    Empty,
    #[error("`{0}`: no comparison (one of < <= > >= == !=); write e.g. `sse.p99 < 50ms`")]
    NoOperator(String),
    #[error("`{0}`: expected TECHNIQUE.FIGURE before the comparison, e.g. `sse.p99` or `*.lost`")]
    BadSubject(String),
    #[error(
        "`{expr}`: unknown technique `{name}` (poll, long-poll, stream, sse, ws, or * for every one)"
    )]
    UnknownTechnique { expr: String, name: String },
    #[error("`{expr}`: technique `{name}` is not in this run's --techniques ({run})")]
    NotInRun {
        expr: String,
        name: String,
        run: String,
    },
    #[error("`{expr}`: unknown figure `{name}` (figures: {})", figures::names())]
    UnknownFigure { expr: String, name: String },
    #[error("`{0}`: no threshold after the comparison")]
    NoThreshold(String),
    #[error("`{expr}`: `{text}` is not a number")]
    BadNumber { expr: String, text: String },
    #[error(
        "`{expr}`: unknown unit `{unit}` (us, ms, s for durations; B, KiB, MiB, GiB for sizes)"
    )]
    UnknownUnit { expr: String, unit: String },
    #[error("`{expr}`: {figure} is {}; `{unit}` does not fit", kind.describe())]
    WrongUnit {
        expr: String,
        figure: &'static str,
        kind: Kind,
        unit: String,
    },
    #[error("`{expr}`: {figure} is {}; write e.g. `{figure} < 50ms`", kind.describe())]
    MissingUnit {
        expr: String,
        figure: &'static str,
        kind: Kind,
    },
}

impl FromStr for Check {
    type Err = CheckError;
    fn from_str(s: &str) -> Result<Check, CheckError> {
        parse(s)
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expr)
    }
}

/// Parses one expression.
pub fn parse(text: &str) -> Result<Check, CheckError> {
    let expr = text.trim().to_string();
    if expr.is_empty() {
        return Err(CheckError::Empty);
    }
    let (at, sym, op) = find_op(&expr).ok_or_else(|| CheckError::NoOperator(expr.clone()))?;
    let subject = expr[..at].trim();
    let rhs = expr[at + sym.len()..].trim();
    let (tech, fig) = subject
        .split_once('.')
        .filter(|(t, f)| !t.is_empty() && !f.is_empty() && !subject.contains(char::is_whitespace))
        .ok_or_else(|| CheckError::BadSubject(expr.clone()))?;
    let target = if tech == "*" {
        Target::All
    } else {
        Target::One(tech.parse().map_err(|_| CheckError::UnknownTechnique {
            expr: expr.clone(),
            name: tech.to_string(),
        })?)
    };
    let figure = figures::find(fig).ok_or_else(|| CheckError::UnknownFigure {
        expr: expr.clone(),
        name: fig.to_string(),
    })?;
    if rhs.is_empty() {
        return Err(CheckError::NoThreshold(expr));
    }
    let threshold = threshold(&expr, rhs, figure)?;
    Ok(Check {
        expr,
        target,
        figure,
        op,
        threshold,
    })
}

/// The first comparison operator in `s`: its byte offset, text and meaning.
fn find_op(s: &str) -> Option<(usize, &'static str, Op)> {
    let at = s.find(['<', '>', '=', '!'])?;
    Op::ALL
        .iter()
        .find(|(sym, _)| s[at..].starts_with(sym))
        .map(|&(sym, op)| (at, sym, op))
}

/// The threshold `rhs` (a number and maybe a unit) in `figure`'s base unit.
fn threshold(expr: &str, rhs: &str, figure: &'static Figure) -> Result<f64, CheckError> {
    let split = rhs
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rhs.len());
    let (num, unit) = (&rhs[..split], rhs[split..].trim());
    let n: f64 = num
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite())
        .ok_or_else(|| CheckError::BadNumber {
            expr: expr.to_string(),
            text: rhs.to_string(),
        })?;
    let scale = unit_scale(expr, unit, figure)?;
    Ok(n * scale)
}

/// What one `unit` is worth in `figure`'s base unit.
fn unit_scale(expr: &str, unit: &str, figure: &'static Figure) -> Result<f64, CheckError> {
    let (kind, name) = (figure.kind, figure.name);
    let wrong = || CheckError::WrongUnit {
        expr: expr.to_string(),
        figure: name,
        kind,
        unit: unit.to_string(),
    };
    let duration_us = match unit {
        "us" | "µs" => Some(1.0),
        "ms" => Some(1e3),
        "s" => Some(1e6),
        _ => None,
    };
    let size_b = match unit {
        "B" => Some(1.0),
        "KiB" => Some(1024.0),
        "MiB" => Some(1024.0 * 1024.0),
        "GiB" => Some(1024.0 * 1024.0 * 1024.0),
        _ => None,
    };
    if !unit.is_empty() && duration_us.is_none() && size_b.is_none() {
        return Err(CheckError::UnknownUnit {
            expr: expr.to_string(),
            unit: unit.to_string(),
        });
    }
    match kind {
        Kind::Duration if unit.is_empty() => Err(CheckError::MissingUnit {
            expr: expr.to_string(),
            figure: name,
            kind,
        }),
        Kind::Duration => duration_us.ok_or_else(wrong),
        Kind::Seconds if unit.is_empty() => Ok(1.0),
        Kind::Seconds => duration_us.map(|us| us / 1e6).ok_or_else(wrong),
        Kind::Size if unit.is_empty() => Ok(1.0),
        Kind::Size => size_b.ok_or_else(wrong),
        Kind::Number if unit.is_empty() => Ok(1.0),
        Kind::Number => Err(wrong()),
    }
}

/// Fails when a check names a technique that is not in `run` (the run's --techniques).
pub fn require_techniques(checks: &[Check], run: &[Technique]) -> Result<(), CheckError> {
    for c in checks {
        if let Target::One(t) = c.target {
            if !run.contains(&t) {
                let names: Vec<&str> = run.iter().map(|t| t.name()).collect();
                return Err(CheckError::NotInRun {
                    expr: c.expr.clone(),
                    name: t.name().to_string(),
                    run: names.join(", "),
                });
            }
        }
    }
    Ok(())
}
