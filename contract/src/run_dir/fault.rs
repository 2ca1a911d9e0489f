//! What the injected faults (`--fault`, docs/FAULTS.md) did to one technique, as summary.json
//! records it in `fault`: [`FaultSummary`]. `null` in a run without faults (or written before
//! faults existed). Counts cover the steady-state window, like the technique's own `lost`,
//! `duplicates`, `out_of_order` and `reconnects`, which keep their meaning.

use serde::{Deserialize, Serialize};

use super::summary::Millis;

/// The faults of one technique's phase and what the clients lost to them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultSummary {
    /// The `--fault` specs, canonical, comma-separated, e.g. `drop=5s,idle-cut=30s`.
    pub spec: String,
    /// How the clients recovered: `resuming` (every technique resumes from its cursor) or
    /// `classic` (the browser code of the seed).
    pub recovery: String,
    /// Connections the harness reset (`drop`) in the window.
    pub cuts: Option<u64>,
    /// Connections the emulated intermediary closed for carrying no byte (`idle-cut`).
    pub idle_cuts: Option<u64>,
    /// Times the child server was killed and started again (`restart-server`).
    pub server_restarts: Option<u64>,
    /// Gap notices the server sent the clients ("what you asked for is gone"), all phases.
    pub gaps: Option<u64>,
    /// The technique's `lost` per 1,000 cuts (`cuts` + `idle_cuts`); `null` without cuts.
    pub lost_per_1000_cuts: Option<f64>,
    /// Time from a cut (or a restart) to that client's next delivered message.
    pub recovery_ms: Option<Millis>,
    /// How many such times were measured.
    pub recoveries: Option<u64>,
    /// `stall-reader`: the clients that stopped reading, and for how long each.
    pub stalled_clients: Option<u64>,
    pub stall_s: Option<f64>,
    /// In-window messages the stalled clients and the others lost, and their p99 latency (µs).
    pub stalled_lost: Option<u64>,
    pub others_lost: Option<u64>,
    pub stalled_latency_p99_us: Option<u64>,
    pub others_latency_p99_us: Option<u64>,
}

/// `lost` per 1,000 cuts, one decimal; `None` when nothing was cut.
pub fn per_1000_cuts(lost: u64, cuts: u64) -> Option<f64> {
    (cuts > 0).then(|| (lost as f64 * 10_000.0 / cuts as f64).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_per_1000_cuts() {
        assert_eq!(per_1000_cuts(3, 0), None);
        assert_eq!(per_1000_cuts(0, 40), Some(0.0));
        assert_eq!(per_1000_cuts(7, 3), Some(2333.3));
    }

    #[test]
    fn a_lean_fault_entry_reads() {
        let f: FaultSummary =
            serde_json::from_str(r#"{"spec": "drop=5s", "recovery": "classic", "cuts": 40}"#)
                .unwrap();
        assert_eq!((f.cuts, f.gaps), (Some(40), None));
    }
}
