//! Waiting on something observable with a deadline: a condition checked at least every 100 ms
//! (the clients connected, every expected message delivered), the deadline, or a stop signal.
//! The coordinator's phases and the worker wait alike.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::stats::Recorder;

/// Waits until `done()`, `deadline` or `stop`, checking at least every 100 ms; `each` is
/// called at every check with the time left. Returns whether `done()` came true.
pub async fn until(
    deadline: Instant,
    stop: Option<&CancellationToken>,
    mut each: impl FnMut(Duration),
    mut done: impl FnMut() -> bool,
) -> bool {
    let never = CancellationToken::new();
    let stop = stop.unwrap_or(&never);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        each(left);
        if done() {
            return true;
        }
        if left.is_zero() || stop.is_cancelled() {
            return false;
        }
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = tokio::time::sleep(left.min(Duration::from_millis(100))) => {}
        }
    }
}

/// Whether `clients` connections of `rec`'s technique are open: every technique holds one
/// connection per client (short poll keeps it alive).
pub fn connected(rec: &Recorder, clients: u64) -> bool {
    rec.counters
        .connections
        .load(std::sync::atomic::Ordering::Relaxed)
        >= clients
}
