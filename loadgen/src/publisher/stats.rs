//! What the publisher did: its counters as it runs ([`PublisherStats`]) and, once it stopped,
//! how it fared ([`Publishing`], which the verdict reads).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// What the publisher did.
#[derive(Debug, Default)]
pub struct PublisherStats {
    /// Publishes answered 200.
    pub ok: AtomicU64,
    /// Publishes that failed (connection error, timeout, non-200) or were abandoned on stop.
    pub failures: AtomicU64,
    /// The furthest behind schedule a publish was sent, µs.
    pub max_lag_us: AtomicU64,
    /// Why the first failed publish failed (`HTTP 404 Not Found`, a connect error...).
    pub first_error: std::sync::Mutex<Option<String>>,
}

/// How the publisher fared over the whole phase (unknown for merged worker directories).
#[derive(Debug, Clone, Default)]
pub struct Publishing {
    /// Publishes the server accepted.
    pub accepted: u64,
    /// Publishes that failed or were abandoned.
    pub failed: u64,
    /// Why the first failed publish failed (e.g. `HTTP 404 Not Found`).
    pub first_error: Option<String>,
}

impl PublisherStats {
    /// Counts a failed publish and remembers why, if it is the first.
    pub(super) fn failed(&self, why: impl std::fmt::Display) {
        self.failures.fetch_add(1, Relaxed);
        let mut first = self.first_error.lock().unwrap_or_else(|e| e.into_inner());
        if first.is_none() {
            *first = Some(why.to_string());
        }
    }

    /// What the publisher did, for [`crate::measure::verdict::judge`].
    pub fn publishing(&self) -> Publishing {
        Publishing {
            accepted: self.ok.load(Relaxed),
            failed: self.failures.load(Relaxed),
            first_error: self
                .first_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }
}
