//! The `fault` entry of a technique's summary (docs/FAULTS.md): what the injected faults did,
//! from the clients' raw counters and fault histograms. Cuts count in the steady-state window
//! (like `lost`, by which they are divided); gaps and recovery times over the whole phase.

use contract::run_dir::fault::{FaultSummary, per_1000_cuts};
use hdrhistogram::Histogram;

use crate::config::RunConfig;
use crate::group::local::RawResult;
use crate::output::summary::millis;

/// The fault entry of a technique that expected `expected` deliveries and whose server was
/// restarted `restarts` times, or None without `--fault`.
pub fn summary(
    cfg: &RunConfig,
    raw: &RawResult,
    expected: u64,
    restarts: u64,
) -> Option<FaultSummary> {
    if !cfg.fault.any() {
        return None;
    }
    let (w, p) = (&raw.window, &raw.phase);
    let lost = expected.saturating_sub(p.delivered);
    let cuts = w.cuts + w.idle_cuts;
    let h = &raw.faults;
    let stalled = cfg.fault.stall_reader.map(|s| s.duration);
    let p99 = |h: &Histogram<u64>| (!h.is_empty()).then(|| h.value_at_quantile(0.99));
    Some(FaultSummary {
        spec: cfg.fault.to_string(),
        recovery: cfg.recovery.name().to_string(),
        cuts: Some(w.cuts),
        idle_cuts: Some(w.idle_cuts),
        server_restarts: cfg.fault.restart_server.map(|_| restarts),
        gaps: Some(p.gaps),
        lost_per_1000_cuts: per_1000_cuts(lost, cuts),
        recovery_ms: millis(&h.recovery),
        recoveries: Some(h.recovery.len()),
        stalled_clients: stalled.map(|_| p.stalled_clients),
        stall_s: stalled.map(|d| d.as_secs_f64()),
        stalled_lost: stalled.map(|_| p.stalled_lost.min(lost)),
        others_lost: stalled.map(|_| lost.saturating_sub(p.stalled_lost)),
        stalled_latency_p99_us: stalled.and_then(|_| p99(&h.stalled_latency)),
        others_latency_p99_us: stalled.and_then(|_| p99(&h.others_latency)),
    })
}
