//! The emulated links of a technique (docs/NETWORK.md) as summary.json records them:
//! [`LinkSummary`] for the subscribers' link (`link`) and the publisher's (`publisher_link`),
//! [`LinkEmulatorSummary`] for the emulator that carried them (`link_emulator`). Each is
//! `null` in a run without that link (or written before links existed).

use serde::{Deserialize, Serialize};

/// One emulated link: its spec and what it carried over the whole technique phase (first
/// connect to last close), all connections together.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkSummary {
    /// The `--link` label: a preset's name or the canonical `rtt=..,jitter=..,down=..,up=..`.
    pub spec: String,
    pub rtt_us: Option<u64>,
    pub jitter_us: Option<u64>,
    /// Bandwidth server to client per connection, bits/s; `null`: unlimited.
    pub down_bits_per_s: Option<u64>,
    /// Bandwidth client to server per connection, bits/s; `null`: unlimited.
    pub up_bits_per_s: Option<u64>,
    /// Connection attempts through the link, and those that failed.
    pub connects: Option<u64>,
    pub connect_failures: Option<u64>,
    /// Bytes the link delivered server to client, and client to server.
    pub bytes_down: Option<u64>,
    pub bytes_up: Option<u64>,
}

/// The user-space link emulator's own cost over the technique phase: its threads in every
/// process that ran one (this process for the publisher's link and local clients, each
/// `--processes` worker for its clients).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LinkEmulatorSummary {
    /// Processes that ran an emulator, and its threads in each.
    pub processes: Option<u64>,
    pub threads: Option<u64>,
    /// CPU seconds (user + system) of the emulator threads, all processes; `null` where
    /// /proc is absent.
    pub cpu_s: Option<f64>,
    /// `cpu_s` per message received by the subscribers in the phase (`received_total`), µs.
    pub cpu_us_per_message: Option<f64>,
}
