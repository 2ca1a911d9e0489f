//! The figures `pushbench compare` judges, which way each is worse, their default thresholds,
//! how each is read from a loaded run, and `--max-regression` (`p99=10%,server_cpu=5%`).

use std::collections::BTreeMap;

use reports::Run;
use reports::model::{Figures, TechniqueSummary};

/// One compared figure of one technique.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Figure {
    P50,
    P99,
    Throughput,
    Lost,
    Errors,
    ServerCpu,
    ServerRss,
    BytesPerMessage,
    RequestsPerMessage,
}

impl Figure {
    /// Every figure, in the order of the table.
    pub const ALL: [Figure; 9] = [
        Figure::P50,
        Figure::P99,
        Figure::Throughput,
        Figure::Lost,
        Figure::Errors,
        Figure::ServerCpu,
        Figure::ServerRss,
        Figure::BytesPerMessage,
        Figure::RequestsPerMessage,
    ];

    /// The name used in the table, in `--max-regression` and as the JUnit test case's name.
    pub fn name(self) -> &'static str {
        match self {
            Figure::P50 => "p50",
            Figure::P99 => "p99",
            Figure::Throughput => "throughput",
            Figure::Lost => "lost",
            Figure::Errors => "errors",
            Figure::ServerCpu => "server_cpu",
            Figure::ServerRss => "server_rss",
            Figure::BytesPerMessage => "bytes_per_message",
            Figure::RequestsPerMessage => "requests_per_message",
        }
    }

    /// The unit of [`Figure::value`].
    pub fn unit(self) -> &'static str {
        match self {
            Figure::P50 | Figure::P99 => "ms",
            Figure::Throughput => "msg/s",
            Figure::Lost => "msgs",
            Figure::Errors => "errors",
            Figure::ServerCpu => "CPU s per 1M msgs",
            Figure::ServerRss => "MiB",
            Figure::BytesPerMessage => "B/msg",
            Figure::RequestsPerMessage => "req/msg",
        }
    }

    /// Whether a higher value is worse (latency, CPU...); only throughput is better higher.
    pub fn higher_is_worse(self) -> bool {
        self != Figure::Throughput
    }

    /// Counts: going from 0 to more than 0 is always a regression, and they have no spread.
    pub fn is_count(self) -> bool {
        matches!(self, Figure::Lost | Figure::Errors)
    }

    /// The largest change (%, in the worse direction) that is not a regression by default.
    /// Latency, throughput, CPU and memory move with a shared machine's load: 10 %. Bytes and
    /// requests per message hardly move unless the protocol changed: 5 %.
    pub fn default_threshold(self) -> f64 {
        match self {
            Figure::BytesPerMessage | Figure::RequestsPerMessage => 5.0,
            _ => 10.0,
        }
    }

    /// This figure of technique `t` of `run`, in [`Figure::unit`]; `None` when unknown.
    /// Latency percentiles come from the merged histogram when the run has one, else from
    /// summary.json.
    pub fn value(self, run: &Run, t: &TechniqueSummary) -> Option<f64> {
        let ms = |us: u64| us as f64 / 1000.0;
        let hist = run
            .histograms
            .get(t.technique.name())
            .filter(|h| !h.is_empty());
        match self {
            Figure::P50 => match hist {
                Some(h) => Some(ms(h.value_at_quantile(0.5))),
                None => t.latency_us.p50.map(ms),
            },
            Figure::P99 => match hist {
                Some(h) => Some(ms(h.value_at_quantile(0.99))),
                None => t.latency_us.p99.map(ms),
            },
            Figure::Throughput => t.delivered_per_s(),
            Figure::Lost => t.lost.map(|l| l as f64),
            Figure::Errors => Some(t.errors_total() as f64),
            Figure::ServerCpu => match (t.server_cpu_s, t.delivered) {
                (Some(cpu), Some(d)) if d > 0 => Some(cpu * 1e6 / d as f64),
                _ => None,
            },
            Figure::ServerRss => t.server_rss_bytes.map(|b| b as f64 / (1024.0 * 1024.0)),
            Figure::BytesPerMessage => t.bytes_per_msg(),
            Figure::RequestsPerMessage => t.requests_per_msg(),
        }
    }
}

impl std::str::FromStr for Figure {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Figure::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Figure::ALL.iter().map(|f| f.name()).collect();
                format!("unknown figure {s:?} (one of {})", names.join(", "))
            })
    }
}

/// The threshold of every figure: the defaults, then `--max-regression`.
#[derive(Debug, Clone)]
pub struct Thresholds(BTreeMap<Figure, f64>);

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds(
            Figure::ALL
                .into_iter()
                .map(|f| (f, f.default_threshold()))
                .collect(),
        )
    }
}

impl Thresholds {
    /// The defaults with each `figure=N%` of `specs` (each a comma list) applied.
    pub fn parse(specs: &[String]) -> Result<Thresholds, String> {
        let mut t = Thresholds::default();
        for item in specs.iter().flat_map(|s| s.split(',')) {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (name, pct) = item.split_once('=').ok_or_else(|| {
                format!("--max-regression: {item:?} is not FIGURE=PERCENT (e.g. p99=10%)")
            })?;
            let figure: Figure = name
                .trim()
                .parse()
                .map_err(|e| format!("--max-regression: {e}"))?;
            let text = pct.trim();
            let number = text.strip_suffix('%').unwrap_or(text).trim();
            let value: f64 = number
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| {
                    format!("--max-regression: {text:?} for {name} is not a percentage (e.g. 10%)")
                })?;
            t.0.insert(figure, value);
        }
        Ok(t)
    }

    /// The threshold of `f`, %.
    pub fn get(&self, f: Figure) -> f64 {
        self.0.get(&f).copied().unwrap_or(f.default_threshold())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse_and_refuse() {
        let t = Thresholds::parse(&["p99=20%, server_cpu=5".into(), "lost=0%".into()]).unwrap();
        assert_eq!(t.get(Figure::P99), 20.0);
        assert_eq!(t.get(Figure::ServerCpu), 5.0);
        assert_eq!(t.get(Figure::Lost), 0.0);
        assert_eq!(t.get(Figure::P50), 10.0);
        for bad in ["p98=10%", "p99", "p99=ten%", "p99=-5%", "p99=nan"] {
            let e = Thresholds::parse(&[bad.into()]).unwrap_err();
            assert!(e.starts_with("--max-regression: "), "{bad}: {e}");
        }
        assert!(
            Thresholds::parse(&["p98=1%".into()])
                .unwrap_err()
                .contains("unknown figure")
        );
    }
}
