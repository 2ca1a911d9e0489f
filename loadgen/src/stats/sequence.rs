//! Which messages count, and how each one arrived: the steady-state [`Window`] (per topic, a
//! range of the publisher's sequence numbers) and each subscriber's [`SeqTracker`] (gaps, late
//! fills, duplicates).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The steady-state window, per topic, as a range of publisher sequence numbers.
#[derive(Debug)]
pub struct Window {
    first: Vec<AtomicU64>,
    last: Vec<AtomicU64>,
}

impl Window {
    pub(super) fn new(topics: usize) -> Self {
        Window {
            first: (0..topics).map(|_| AtomicU64::new(u64::MAX)).collect(),
            last: (0..topics).map(|_| AtomicU64::new(u64::MAX)).collect(),
        }
    }
    /// The publisher calls this before publishing `seq`, the first message of the window.
    pub fn open(&self, topic: usize, seq: u64) {
        self.first[topic].store(seq, Relaxed);
    }
    /// The publisher calls this after publishing `seq`, the last message of the window, and
    /// before publishing anything later.
    pub fn close(&self, topic: usize, last_seq: u64) {
        self.last[topic].store(last_seq, Relaxed);
    }
    /// Whether message `seq` of `topic` belongs to the steady-state window.
    pub fn contains(&self, topic: usize, seq: u64) -> bool {
        match (self.first.get(topic), self.last.get(topic)) {
            (Some(f), Some(l)) => {
                let f = f.load(Relaxed);
                f != u64::MAX && seq >= f && seq <= l.load(Relaxed)
            }
            _ => false,
        }
    }
    /// Messages in the window of `topic` (0 until it is both opened and closed).
    pub fn len(&self, topic: usize) -> u64 {
        let f = self.first[topic].load(Relaxed);
        let l = self.last[topic].load(Relaxed);
        if f == u64::MAX || l == u64::MAX || l < f {
            0
        } else {
            l - f + 1
        }
    }
}

/// What one subscriber has seen of its topic: detects gaps, late fills and duplicates.
#[derive(Debug, Default)]
pub struct SeqTracker {
    highest: Option<u64>,
    missing: BTreeSet<u64>,
}

/// How a received sequence number relates to what the subscriber saw before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// First time, in order.
    New,
    /// First time, but after a later message (it fills a gap).
    Late,
    /// Seen before.
    Duplicate,
}

/// Gaps wider than this are not tracked message by message (they count as lost).
const MAX_TRACKED_GAP: u64 = 1 << 20;

impl SeqTracker {
    /// Classifies `seq` and remembers it.
    pub fn observe(&mut self, seq: u64) -> Seen {
        match self.highest {
            None => {
                self.highest = Some(seq);
                Seen::New
            }
            Some(h) if seq > h => {
                if seq - h > 1 && seq - h <= MAX_TRACKED_GAP {
                    self.missing.extend(h + 1..seq);
                }
                self.highest = Some(seq);
                Seen::New
            }
            Some(_) => {
                if self.missing.remove(&seq) {
                    Seen::Late
                } else {
                    Seen::Duplicate
                }
            }
        }
    }
    /// The highest sequence number seen (the subscriber's own progress).
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracker_classifies() {
        let mut t = SeqTracker::default();
        assert_eq!(t.observe(5), Seen::New);
        assert_eq!(t.observe(6), Seen::New);
        assert_eq!(t.observe(9), Seen::New);
        assert_eq!(t.observe(8), Seen::Late);
        assert_eq!(t.observe(8), Seen::Duplicate);
        assert_eq!(t.observe(6), Seen::Duplicate);
        assert_eq!(t.observe(7), Seen::Late);
        assert_eq!(t.highest(), Some(9));
    }
}
