//! Direct fan-out: how a message reaches thousands of SSE and stream subscribers of one topic
//! for little more than the system calls that write it.
//!
//! Without it every subscriber's task is woken for every message, polls its way down to the
//! topic's broadcast channel, encodes and writes: on this 2-core machine that user-space work
//! made `serve` cost 1.4x a minimal server's CPU per delivery (docs/PERFORMANCE.md). Here a
//! topic with enough subscribers (`--direct-fanout-min`) gets a few pumps (one per runtime
//! worker, each with its share of the subscribers). A pump takes every message that came
//! since its last round, frames them once per technique and framing (SSE or NDJSON, chunked
//! or HTTP/1.0 close-delimited: one chunk for the lot), and writes that to each of its
//! sockets with a non-blocking `try_write`; subscribers' tasks stay asleep. At a high rate a
//! round takes several messages, so each socket gets one write for all of them.
//!
//! A subscriber's socket is the pump's only while it keeps up: a write that would block (or
//! only partly goes) leaves the rest with the subscriber's task, which writes it, catches up
//! from the topic (its broadcast receiver, or the retention buffer) as before and hands the
//! socket back once it has nothing left to write. A slow reader therefore meets the same
//! stall watch and `--subscriber-queue` as before. See `sink` for the hand-over.

mod pump;
pub mod sink;

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use tokio::sync::{Notify, broadcast};

use crate::message::Message;
pub use sink::{Conn, Framing, Sink};

/// The pumps of one topic (none until a subscriber joins).
#[derive(Debug, Default)]
pub struct Fanout {
    shards: OnceLock<Box<[Arc<Shard>]>>,
    next: AtomicUsize,
}

/// One pump's share of a topic's subscribers.
#[derive(Debug, Default)]
pub struct Shard {
    joining: Mutex<Joining>,
    /// Wakes the pump: a subscriber joined or left.
    wake: Notify,
}

#[derive(Debug, Default)]
struct Joining {
    /// Sinks handed over since the pump's last round, with their epochs.
    incoming: Vec<(Arc<Sink>, u64)>,
    /// A pump is running for this shard.
    running: bool,
}

impl Shard {
    fn lock(&self) -> MutexGuard<'_, Joining> {
        self.joining.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes the pump (a sink was closed: it drops it now rather than at the next message).
    pub fn nudge(&self) {
        self.wake.notify_one();
    }
}

impl Fanout {
    /// A topic's fan-out, with no pump yet.
    pub fn new() -> Fanout {
        Fanout::default()
    }

    /// Hands `sink` (armed at `epoch` by its task) to one of the pumps, starting that pump if
    /// it is not running: `subscribe` gives it the topic's broadcast receiver and the newest
    /// seq at that moment (taken together). Returns the shard, to nudge when the sink closes.
    pub fn join(
        &self,
        sink: Arc<Sink>,
        epoch: u64,
        subscribe: impl FnOnce() -> (broadcast::Receiver<Arc<Message>>, u64),
    ) -> Arc<Shard> {
        let shards = self.shards.get_or_init(|| {
            let n = tokio::runtime::Handle::try_current()
                .map(|h| h.metrics().num_workers())
                .unwrap_or(1)
                .clamp(1, 8);
            (0..n).map(|_| Arc::new(Shard::default())).collect()
        });
        let shard = shards[self.next.fetch_add(1, Relaxed) % shards.len()].clone();
        let mut j = shard.lock();
        j.incoming.push((sink, epoch));
        if j.running {
            drop(j);
            shard.wake.notify_one();
        } else {
            j.running = true;
            drop(j);
            let (rx, at) = subscribe();
            tokio::spawn(pump::run(shard.clone(), rx, at));
        }
        shard
    }
}

#[cfg(test)]
mod tests;
