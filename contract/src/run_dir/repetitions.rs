//! `run --repeat N`: a technique measured N times, each time on a fresh server. Its entry in
//! summary.json then holds the median of every figure, and [`Repetitions`] says how far each
//! figure moved: its min, median and max over the repetitions (docs/RUN_FORMAT.md,
//! "Repetitions"). Each repetition is also kept as a run directory of its own, under
//! `repetitions/<k>/`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A figure over the repetitions, in the figure's base unit (µs for latency, s for CPU, bytes
/// for memory; a bare number for counts and ratios). `None`: not measured in any repetition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Range {
    pub min: Option<f64>,
    pub median: Option<f64>,
    pub max: Option<f64>,
}

/// A technique's `repetitions` in summary.json (absent, or `null`, in a run of one repetition).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Repetitions {
    /// Repetitions that measured this technique (fewer than `--repeat` in a run cut short).
    pub count: u64,
    /// Figure name (the names `--check` takes: `p50`, `p99`, `server_cpu_s`, `lost`...) →
    /// its min, median and max over the repetitions.
    #[serde(default)]
    pub figures: BTreeMap<String, Range>,
}

impl Repetitions {
    /// The range of figure `name`, if recorded.
    pub fn get(&self, name: &str) -> Option<&Range> {
        self.figures.get(name)
    }
}
