//! The `broker` object of `/stats` (`serve --broker`, issue 18): the broker the topics are
//! shared over and how the connection to it fares, one process's or a cluster's sum.

use serde::{Deserialize, Serialize};

/// The broker of `serve --broker`, as this server (a cluster: all its processes) sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BrokerStatus {
    /// `redis` or `nats`.
    pub kind: String,
    /// The broker's URL (`--broker`).
    pub url: String,
    /// Whether the connection is up (a cluster: in every process). While it is not,
    /// publishes answer `503` with `Retry-After`.
    pub connected: bool,
    /// Seconds the connection has been down now (a cluster: the longest; 0 when connected).
    pub lost_for_s: f64,
    /// Times the connection was lost.
    pub disconnects: u64,
    /// Messages received from the broker (a cluster: each process counts its own).
    pub received: u64,
    /// Messages fetched from the broker's retention to fill a hub that was behind (an
    /// instance that started late, missed messages while disconnected, or a client resuming
    /// with a cursor from another instance).
    pub backfilled: u64,
    /// Times a topic's messages jumped past what the broker still retained: its clients were
    /// told of a gap.
    pub gaps: u64,
    /// Publishes refused (`503`) because the broker was lost or failed them.
    pub refused: u64,
    /// Processes using the broker, and how many of them are connected now.
    pub processes: u64,
    pub connected_processes: u64,
}

impl BrokerStatus {
    /// Adds another process's view (the figures of several processes).
    pub fn add(&mut self, other: &BrokerStatus) {
        if self.kind.is_empty() {
            self.kind.clone_from(&other.kind);
            self.url.clone_from(&other.url);
        }
        self.lost_for_s = self.lost_for_s.max(other.lost_for_s);
        self.disconnects += other.disconnects;
        self.received += other.received;
        self.backfilled += other.backfilled;
        self.gaps += other.gaps;
        self.refused += other.refused;
        self.processes += other.processes;
        self.connected_processes += other.connected_processes;
        self.connected = self.processes > 0 && self.connected_processes == self.processes;
    }
}
