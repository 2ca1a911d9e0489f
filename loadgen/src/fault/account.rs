//! What a client records of the faults it meets ([`ClientFaults`]' accounting): the recovery
//! time from a cut (or a disconnect by the server) to its next new message of the window, and
//! as a stalled reader or one of the others, its latency and what it lost.

use std::sync::atomic::Ordering::Relaxed;

use super::ClientFaults;
use crate::payload;
use crate::stats::{Delivery, Recorder};

impl ClientFaults {
    /// With `stall-reader`: whether this client is one of the stalled readers (its latency and
    /// losses are kept apart from the others'); `None` without that fault.
    pub fn stall_role(&self) -> Option<bool> {
        self.spec.stall_reader.map(|_| self.is_stalled_reader())
    }

    /// Counts this client among the stalled readers, if it is one.
    pub fn register(&self, rec: &Recorder) {
        if self.stall_role() == Some(true) {
            rec.counters.stalled_clients.fetch_add(1, Relaxed);
        }
    }

    /// Whether a cut is waiting for the client's next message.
    pub fn cut_pending(&self) -> bool {
        self.cut_us.load(Relaxed) != 0
    }

    /// The server closed or refused the connection (a restart): the recovery time runs from
    /// now, unless a cut already started it.
    pub fn disconnected(&self) {
        let now = payload::now_us().max(1);
        let _ = self.cut_us.compare_exchange(0, now, Relaxed, Relaxed);
    }

    /// The client received a payload at `received_us`, which was `delivery` to the window.
    ///
    /// Recovered: the first message after the cut that is not a replay. Measured when it is a
    /// message of the window; one outside it (warm-up, drain) ends the wait unmeasured, as the
    /// window's figures do.
    pub fn delivered(&mut self, rec: &Recorder, delivery: Delivery, received_us: u64) {
        let recovered = matches!(
            delivery,
            Delivery::New(_) | Delivery::Outside { fresh: true }
        );
        if recovered {
            let at = self.cut_us.swap(0, Relaxed);
            if at != 0 && matches!(delivery, Delivery::New(_)) {
                rec.faults.record_recovery(received_us.saturating_sub(at));
            }
        }
        if let (Some(stalled), Delivery::New(us)) = (self.stall_role(), delivery) {
            rec.faults.record_latency(stalled, us);
            self.in_window += 1;
        }
    }

    /// The client ends: a stalled reader adds what it lost of its topic's window.
    pub fn finish(&self, rec: &Recorder, topic: u32) {
        if self.stall_role() == Some(true) {
            let lost = rec
                .window
                .len(topic as usize)
                .saturating_sub(self.in_window);
            rec.counters.stalled_lost.fetch_add(lost, Relaxed);
        }
    }
}
