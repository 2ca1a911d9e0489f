//! checks.json: the verdict of each `--check` (and scenario `checks`) of a run, one entry per
//! check and technique (`*` gives one per technique that ran), in the order they were given
//! (docs/RUN_FORMAT.md). Also the `checks` key of `--json`. Written only when checks were given.

use serde::{Deserialize, Serialize};

/// The file's name in the run directory.
pub const CHECKS_JSON: &str = "checks.json";

/// One check judged on one technique.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckVerdict {
    /// The expression as given, e.g. `*.lost == 0`.
    pub expr: String,
    /// The technique judged (`*` expanded).
    pub technique: String,
    /// The figure's name, e.g. `p99`.
    pub figure: String,
    /// The figure's value, in `unit`; null: not measured (a failed check).
    #[serde(default)]
    pub value: Option<f64>,
    /// `us`, `s`, `B`, or null for counts and ratios.
    #[serde(default)]
    pub unit: Option<String>,
    /// `pass` or `fail`.
    pub verdict: String,
    /// The comparison, `<`, `<=`, `>`, `>=`, `==` or `!=`.
    #[serde(default)]
    pub op: Option<String>,
    /// The threshold, in `unit`.
    #[serde(default)]
    pub threshold: Option<f64>,
    /// The figure and threshold as a person reads them, e.g. `p99 3.2 ms (threshold 50 ms)`,
    /// or `p99 not measured`.
    #[serde(default)]
    pub detail: Option<String>,
    /// With `--repeat N`: the repetitions that measured the figure, and its min and max over
    /// them (`value` is then their median, what the check judged). Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetitions: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

impl CheckVerdict {
    /// Whether the check passed.
    pub fn passed(&self) -> bool {
        self.verdict == "pass"
    }
}
