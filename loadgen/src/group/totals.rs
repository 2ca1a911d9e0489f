//! What the workers of one technique measured, added up ([`WorkerTotals`]): by the live pool
//! as its workers report, and by `pushbench merge` from worker run directories.

use super::RawResult;
use super::protocol::{self, WorkerReport};
use crate::link::LinkCounts;
use crate::stats::FaultHistograms;
use crate::technique::Technique;

/// What the workers of one technique measured, added up: counters and histograms exactly,
/// each worker's share of `expected` summed; `published` and the window are the run's.
#[derive(Debug)]
pub struct WorkerTotals {
    pub raw: RawResult,
    /// Σ of the workers' expected deliveries.
    pub expected: u64,
    /// Messages in the window (the same for every worker of a run: the largest is kept).
    pub published: u64,
    pub clients_not_closed: usize,
    /// Σ of the workers' CPU seconds in the window (None if any is unknown).
    pub loadgen_cpu_s: Option<f64>,
    /// Σ of the workers' highest RSS.
    pub loadgen_rss_bytes: Option<u64>,
    /// The earliest window start and the latest end the workers measured, wall-clock µs.
    pub window_us: Option<(u64, u64)>,
    pub failures: Vec<String>,
    /// Σ of what the workers' subscriber links carried (zero without `--link`).
    pub link: LinkCounts,
    /// Workers that ran a link emulator, and Σ of its CPU seconds (None if any is unknown).
    pub link_processes: u64,
    pub link_cpu_s: Option<f64>,
}

impl WorkerTotals {
    /// Nothing added yet.
    pub fn new(technique: Technique) -> WorkerTotals {
        WorkerTotals {
            raw: RawResult::empty(technique),
            expected: 0,
            published: 0,
            clients_not_closed: 0,
            loadgen_cpu_s: Some(0.0),
            loadgen_rss_bytes: None,
            window_us: None,
            failures: Vec::new(),
            link: LinkCounts::default(),
            link_processes: 0,
            link_cpu_s: Some(0.0),
        }
    }

    /// Adds one worker's report (histograms add exactly).
    pub fn add(&mut self, r: &WorkerReport) -> Result<(), protocol::CodecError> {
        let raw = report_raw(r)?;
        self.raw.merge(&raw);
        self.expected += r.expected;
        self.published = self.published.max(r.published);
        self.clients_not_closed += r.clients_not_closed as usize;
        self.loadgen_cpu_s = self.loadgen_cpu_s.zip(r.loadgen_cpu_s).map(|(a, b)| a + b);
        if let Some(b) = r.loadgen_rss_bytes {
            self.loadgen_rss_bytes = Some(self.loadgen_rss_bytes.unwrap_or(0) + b);
        }
        if let Some(l) = &r.link {
            self.link.add(l);
            self.link_processes += 1;
            self.link_cpu_s = self.link_cpu_s.zip(r.link_cpu_s).map(|(a, b)| a + b);
        }
        self.window_us = Some(match self.window_us {
            Some((a, b)) => (a.min(r.window_start_us), b.max(r.window_end_us)),
            None => (r.window_start_us, r.window_end_us),
        });
        Ok(())
    }

    /// A worker gave no results: the workers' CPU sum is unknown.
    pub fn lost_one(&mut self) {
        self.loadgen_cpu_s = None;
        self.link_cpu_s = None;
    }
}

/// A worker's report as a [`RawResult`].
fn report_raw(r: &WorkerReport) -> Result<RawResult, protocol::CodecError> {
    Ok(RawResult {
        technique: r.technique,
        clients: r.clients,
        window: r.window,
        phase: r.phase,
        latency: protocol::decode(&r.latency)?,
        connect: protocol::decode(&r.connect)?,
        first_message: protocol::decode(&r.first_message)?,
        faults: FaultHistograms {
            recovery: protocol::decode_opt(&r.recovery)?,
            stalled_latency: protocol::decode_opt(&r.stalled_latency)?,
            others_latency: protocol::decode_opt(&r.others_latency)?,
        },
    })
}
