//! What a link counts (connections, bytes and segments delivered each way, bytes waiting in
//! its queues). The emulator's own CPU is read per thread through `server::procinfo`.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

/// Counters of one direction, shared by every connection of a link.
#[derive(Debug, Default)]
pub struct DirCounters {
    /// Bytes written to the far end.
    pub bytes: AtomicU64,
    /// Writes to the far end that finished a segment.
    pub segments: AtomicU64,
    /// Bytes waiting in the delay lines now (all connections).
    pub queued: AtomicU64,
    /// The most bytes one connection ever had waiting.
    pub queued_max: AtomicU64,
}

/// Counters of one link.
#[derive(Debug, Default)]
pub struct Counters {
    /// Connection attempts.
    pub connects: AtomicU64,
    /// Attempts that failed (refused, timed out, could not bind).
    pub connect_failures: AtomicU64,
    /// Connections being carried now.
    pub open: AtomicU64,
    /// Client to server.
    pub up: std::sync::Arc<DirCounters>,
    /// Server to client.
    pub down: std::sync::Arc<DirCounters>,
}

/// One direction's figures at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirStats {
    pub bytes: u64,
    pub segments: u64,
    pub queued: u64,
    pub queued_max: u64,
}

/// A link's figures at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    pub connects: u64,
    pub connect_failures: u64,
    pub open: u64,
    pub up: DirStats,
    pub down: DirStats,
}

impl DirCounters {
    fn snapshot(&self) -> DirStats {
        DirStats {
            bytes: self.bytes.load(Relaxed),
            segments: self.segments.load(Relaxed),
            queued: self.queued.load(Relaxed),
            queued_max: self.queued_max.load(Relaxed),
        }
    }
}

impl Counters {
    pub fn snapshot(&self) -> LinkStats {
        LinkStats {
            connects: self.connects.load(Relaxed),
            connect_failures: self.connect_failures.load(Relaxed),
            open: self.open.load(Relaxed),
            up: self.up.snapshot(),
            down: self.down.snapshot(),
        }
    }
}

/// What a link carried, as a worker process reports it and a run adds it up: connection
/// attempts and bytes each way (over the phase).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LinkCounts {
    pub connects: u64,
    pub connect_failures: u64,
    /// Client to server.
    pub bytes_up: u64,
    /// Server to client.
    pub bytes_down: u64,
}

impl LinkCounts {
    /// The counts of a link's snapshot.
    pub fn of(s: &LinkStats) -> LinkCounts {
        LinkCounts {
            connects: s.connects,
            connect_failures: s.connect_failures,
            bytes_up: s.up.bytes,
            bytes_down: s.down.bytes,
        }
    }

    /// Adds another process's counts.
    pub fn add(&mut self, o: &LinkCounts) {
        self.connects += o.connects;
        self.connect_failures += o.connect_failures;
        self.bytes_up += o.bytes_up;
        self.bytes_down += o.bytes_down;
    }
}
