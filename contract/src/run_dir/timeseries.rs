//! timeseries.csv: one row per second per technique, from connect to the end of drain
//! (docs/RUN_FORMAT.md). The columns are [`TimeseriesRow`]'s fields, units in the names.

use serde::{Deserialize, Serialize};

use super::csv::{num, opt_num};
use super::technique::Technique;

/// One row of timeseries.csv: one second of one technique. An empty cell (`None`) is
/// unknown; every column but `t_s` and `technique` may be missing in an older file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeseriesRow {
    /// Seconds since the run started (the sampler's tick, so not a whole number).
    #[serde(serialize_with = "num")]
    pub t_s: f64,
    pub technique: Technique,
    /// `ramp-up`, `warmup`, `steady` or `drain`.
    #[serde(default)]
    pub phase: Option<String>,
    /// Open client connections.
    #[serde(default)]
    pub connections: Option<u64>,
    /// Every payload received in that second, whatever its window.
    #[serde(default, serialize_with = "opt_num")]
    pub delivered_per_s: Option<f64>,
    /// p99 of the messages received in that second (empty if none).
    #[serde(default)]
    pub latency_p99_us: Option<u64>,
    #[serde(default, serialize_with = "opt_num")]
    pub bytes_down_per_s: Option<f64>,
    #[serde(default, serialize_with = "opt_num")]
    pub bytes_up_per_s: Option<f64>,
    #[serde(default, serialize_with = "opt_num")]
    pub requests_per_s: Option<f64>,
    /// Server CPU seconds used in that second.
    #[serde(default, serialize_with = "opt_num")]
    pub server_cpu_s: Option<f64>,
    #[serde(default)]
    pub server_rss_bytes: Option<u64>,
    /// The load generator's CPU seconds in that second (worker processes included).
    #[serde(default, serialize_with = "opt_num")]
    pub loadgen_cpu_s: Option<f64>,
    /// With `--repeat N`: which repetition (1..=N) this second belongs to; empty otherwise.
    #[serde(default)]
    pub repetition: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_the_documented_ones() {
        assert_eq!(
            super::super::csv::columns::<TimeseriesRow>(),
            [
                "t_s",
                "technique",
                "phase",
                "connections",
                "delivered_per_s",
                "latency_p99_us",
                "bytes_down_per_s",
                "bytes_up_per_s",
                "requests_per_s",
                "server_cpu_s",
                "server_rss_bytes",
                "loadgen_cpu_s",
                "repetition",
            ]
        );
    }

    #[test]
    fn a_row_round_trips_and_reads_leniently() {
        let row = TimeseriesRow {
            t_s: 1.002,
            technique: Technique::LongPoll,
            phase: Some("steady".into()),
            connections: Some(20),
            delivered_per_s: Some(200.0),
            latency_p99_us: None,
            bytes_down_per_s: Some(60731.5),
            bytes_up_per_s: Some(0.0),
            requests_per_s: Some(20.0),
            server_cpu_s: None,
            server_rss_bytes: Some(6475776),
            loadgen_cpu_s: Some(0.004),
            repetition: None,
        };
        let mut out = Vec::new();
        super::super::csv::write(&mut out, std::slice::from_ref(&row)).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text.lines().nth(1),
            Some("1.002,long-poll,steady,20,200,,60731.5,0,20,,6475776,0.004,")
        );
        let back: Vec<TimeseriesRow> = csv::Reader::from_reader(text.as_bytes())
            .deserialize()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(back, [row]);
        let lean: TimeseriesRow = csv::Reader::from_reader("t_s,technique\n3,ws\n".as_bytes())
            .deserialize()
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(
            (lean.t_s, lean.technique, lean.phase),
            (3.0, Technique::Ws, None)
        );
    }
}
