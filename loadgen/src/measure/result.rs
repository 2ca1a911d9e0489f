//! What one technique's measurement produced: its raw counters and histograms plus the
//! phase's context (window, publisher, server figures), as the output files and the verdict
//! read it.

use std::time::{Duration, SystemTime};

use super::links::LinkFigures;
use crate::group::local::RawResult;
use crate::sut::target::TechniqueStats;
use crate::technique::Technique;

/// What was measured for one technique (raw results plus the phase's context).
#[derive(Debug)]
pub struct TechniqueResult {
    pub raw: RawResult,
    pub topics: u32,
    pub payload_bytes: usize,
    /// Length of the steady-state window actually measured.
    pub duration: Duration,
    /// Wall-clock start of the window.
    pub window_start: SystemTime,
    pub published: u64,
    pub expected: u64,
    pub publish_failures: u64,
    pub publish_lag_max_us: u64,
    pub server_window: Option<TechniqueStats>,
    pub server_phase: Option<TechniqueStats>,
    pub server_cpu_s: Option<f64>,
    /// The child broker of `--broker` (None: none); its `status` is the server's final view.
    pub broker: Option<contract::run_dir::BrokerFigures>,
    pub server_rss_bytes: Option<u64>,
    pub server_rss_idle_bytes: Option<u64>,
    pub loadgen_cpu_s: Option<f64>,
    pub loadgen_rss_bytes: Option<u64>,
    /// Clients that had to be aborted because they did not close in time.
    pub clients_not_closed: usize,
    pub failure: Option<String>,
    /// The emulated links' figures (None: no `--link` nor `--publisher-link`).
    pub link: Option<LinkFigures>,
    /// Not measured, and why (e.g. [`NOT_OFFERED`]): not a failure, every figure unknown.
    pub skipped: Option<String>,
    /// What the injected faults did (None: no `--fault`).
    pub fault: Option<contract::run_dir::FaultSummary>,
    /// Times the server was killed and started again in this technique's phase (the
    /// `restart-server` fault); its counters across a restart are unknown (None).
    pub server_restarts: u64,
    /// Request mode's figures (None in broadcast mode): docs/REQUEST.md.
    pub request: Option<Box<RequestFigures>>,
}

/// What request mode measured of one technique, beyond the broadcast figures (whose
/// `latency` holds each event's lateness, `delivered`/`expected` events).
#[derive(Debug, Clone)]
pub struct RequestFigures {
    pub params: crate::config::RequestParams,
    /// Request sent to first event; gap between consecutive events; request sent to the
    /// stream's end (µs, counted streams).
    pub ttft: hdrhistogram::Histogram<u64>,
    pub itl: hdrhistogram::Histogram<u64>,
    pub e2e: hdrhistogram::Histogram<u64>,
    /// Counted requests.
    pub started: u64,
    pub completed: u64,
    pub failed: u64,
    /// Open-model arrivals dropped unsent (too many streams in flight).
    pub overflow: u64,
    /// Events received (any stream) and streams ended complete within the window.
    pub events_in_window: u64,
    pub completed_in_window: u64,
    pub open_streams_mean: Option<f64>,
    pub open_streams_max: Option<u64>,
}

/// Why a technique the target's profile does not describe is skipped.
pub const NOT_OFFERED: &str = "not offered by this target";

impl TechniqueResult {
    /// A result with nothing measured.
    pub fn empty(tech: Technique, topics: u32, payload_bytes: usize) -> TechniqueResult {
        TechniqueResult {
            raw: RawResult::empty(tech),
            topics,
            payload_bytes,
            duration: Duration::ZERO,
            window_start: SystemTime::now(),
            published: 0,
            expected: 0,
            publish_failures: 0,
            publish_lag_max_us: 0,
            server_window: None,
            server_phase: None,
            server_cpu_s: None,
            broker: None,
            server_rss_bytes: None,
            server_rss_idle_bytes: None,
            loadgen_cpu_s: None,
            loadgen_rss_bytes: None,
            clients_not_closed: 0,
            failure: None,
            link: None,
            skipped: None,
            fault: None,
            server_restarts: 0,
            request: None,
        }
    }

    /// A technique not measured, for `reason`.
    pub fn skipped(tech: Technique, reason: &str) -> TechniqueResult {
        TechniqueResult {
            skipped: Some(reason.to_string()),
            ..TechniqueResult::empty(tech, 0, 0)
        }
    }
}
