//! Direct fan-out: how a message reaches thousands of SSE and stream subscribers of one topic
//! for little more than the system calls that write it.
//!
//! Without it every subscriber's task is woken for every message, polls its way down to the
//! topic's broadcast channel, encodes and writes: on this 2-core machine that user-space work
//! made `serve` cost 1.4x a minimal server's CPU per delivery (docs/PERFORMANCE.md). Here a
//! topic with enough subscribers (`--direct-fanout-min`) gets a pump (`pump`): a task that
//! goes round the sockets (`pass`), writing to each every message it lacks in one
//! non-blocking `try_write`, framed once per technique and framing for all the sockets (SSE or
//! NDJSON; chunked, one chunk for the lot, or HTTP/1.0 close-delimited); subscribers' tasks
//! stay asleep. At a high rate each socket gets several messages per write.
//!
//! A subscriber's socket is the pump's only while it keeps up: a write that would block (or
//! only partly goes) leaves the rest with the subscriber's task, which writes it, catches up
//! from the topic (its broadcast receiver, or the retention buffer) as before and hands the
//! socket back once it has nothing left to write. A slow reader therefore meets the same
//! stall watch and `--subscriber-queue` as before. See `sink` for the hand-over.

mod pass;
mod pump;
pub mod sink;

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Notify, broadcast};

use crate::message::Message;
pub use sink::{Conn, Framing, Sink};

/// The pump of one topic (not running until a subscriber joins).
#[derive(Debug, Default)]
pub struct Fanout {
    pump: Arc<Pump>,
}

/// The sockets handed to a topic's pump.
#[derive(Debug, Default)]
pub struct Pump {
    joining: Mutex<Joining>,
    /// Wakes the pump: a subscriber joined or left.
    wake: Notify,
}

#[derive(Debug, Default)]
struct Joining {
    /// Sinks handed over since the pump's last pass, with their epochs.
    incoming: Vec<pump::Entry>,
    /// The pump is running.
    running: bool,
}

impl Pump {
    fn lock(&self) -> MutexGuard<'_, Joining> {
        self.joining.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes the pump (a sink was closed: it drops it now rather than at the next message).
    pub fn nudge(&self) {
        self.wake.notify_one();
    }
}

impl Fanout {
    /// A topic's fan-out, its pump not running.
    pub fn new() -> Fanout {
        Fanout::default()
    }

    /// Hands `sink` (armed at `epoch` by its task) to the topic's pump, starting it if it is
    /// not running: `subscribe` gives it the topic's broadcast receiver and the newest
    /// seq at that moment (taken together). Returns the pump, to nudge when the sink closes.
    pub fn join(
        &self,
        sink: Arc<Sink>,
        epoch: u64,
        subscribe: impl FnOnce() -> (broadcast::Receiver<Arc<Message>>, u64),
    ) -> Arc<Pump> {
        let p = self.pump.clone();
        let mut j = p.lock();
        j.incoming.push((sink, epoch));
        if j.running {
            drop(j);
            p.wake.notify_one();
        } else {
            j.running = true;
            drop(j);
            let (rx, at) = subscribe();
            tokio::spawn(pump::run(p.clone(), rx, at));
        }
        p
    }
}

#[cfg(test)]
mod tests;
