//! The message hub: topics, each with its sequence counter, a bounded retention buffer for
//! catch-up, and a broadcast channel for live fan-out. A publish never waits on a subscriber:
//! the broadcast ring overwrites the oldest entry and a subscriber that fell that far behind
//! sees `Lagged` (and is disconnected by its technique).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::broadcast;

use crate::message::{EncodeError, Gap, Message};

/// Topic names: 1 to 64 characters from `[A-Za-z0-9_.-]` (event names follow the same rule).
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// One topic.
#[derive(Debug)]
pub struct Topic {
    inner: Mutex<Inner>,
    tx: broadcast::Sender<Arc<Message>>,
    latest: AtomicU64,
    retention: usize,
}

#[derive(Debug, Default)]
struct Inner {
    retained: VecDeque<Arc<Message>>,
    last_seq: u64,
}

/// What a client gets when it catches up from a cursor.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Retained messages with seq > the cursor, oldest first.
    pub messages: Vec<Arc<Message>>,
    /// Set when seq `since + 1` is no longer retained.
    pub gap: Option<Gap>,
    /// The newest seq of the topic at the time of the snapshot (0: nothing published yet).
    pub latest: u64,
}

impl Topic {
    fn new(retention: usize, queue: usize) -> Topic {
        let (tx, _) = broadcast::channel(queue.max(1));
        Topic {
            inner: Mutex::new(Inner::default()),
            tx,
            latest: AtomicU64::new(0),
            retention: retention.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave `Inner` half-updated in a way that
        // matters (push then pop), so recover from poisoning instead of spreading it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The newest sequence number (0 before the first publish).
    pub fn latest(&self) -> u64 {
        self.latest.load(Relaxed)
    }

    /// Publishes a message; returns its sequence number.
    pub fn publish(&self, event: Option<&str>, data: &str) -> Result<u64, EncodeError> {
        let mut g = self.lock();
        let seq = g.last_seq + 1;
        let msg = Arc::new(Message::new(seq, event, data)?);
        g.last_seq = seq;
        g.retained.push_back(msg.clone());
        while g.retained.len() > self.retention {
            g.retained.pop_front();
        }
        self.latest.store(seq, Relaxed);
        // No receivers is fine: nobody is listening.
        let _ = self.tx.send(msg);
        Ok(seq)
    }

    fn snapshot_locked(g: &Inner, since: u64) -> Snapshot {
        let mut snap = Snapshot {
            latest: g.last_seq,
            ..Snapshot::default()
        };
        let Some(oldest) = g.retained.front().map(|m| m.seq) else {
            return snap;
        };
        if since >= g.last_seq {
            return snap;
        }
        if since + 1 < oldest {
            snap.gap = Some(Gap {
                since,
                first_available: oldest,
            });
        }
        let skip = (since + 1).saturating_sub(oldest) as usize;
        snap.messages = g.retained.iter().skip(skip).cloned().collect();
        snap
    }

    /// Every retained message after `since`.
    pub fn since(&self, since: u64) -> Snapshot {
        Self::snapshot_locked(&self.lock(), since)
    }

    /// Subscribes to live messages and takes the catch-up snapshot atomically: the receiver
    /// yields exactly the messages with seq > `snapshot.latest`.
    pub fn subscribe(&self, since: u64) -> (broadcast::Receiver<Arc<Message>>, Snapshot) {
        let g = self.lock();
        let rx = self.tx.subscribe();
        let snap = Self::snapshot_locked(&g, since);
        (rx, snap)
    }
}

/// All topics of one server.
#[derive(Debug)]
pub struct Hub {
    topics: RwLock<HashMap<Box<str>, Arc<Topic>>>,
    retention: usize,
    queue: usize,
}

impl Hub {
    /// A hub keeping `retention` messages per topic; subscribers may lag `queue` messages.
    pub fn new(retention: usize, queue: usize) -> Hub {
        Hub {
            topics: RwLock::new(HashMap::new()),
            retention,
            queue,
        }
    }

    /// The topic called `name`, created if needed. `name` must be valid (see [`valid_name`]).
    pub fn topic(&self, name: &str) -> Arc<Topic> {
        if let Some(t) = self
            .topics
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
        {
            return t.clone();
        }
        let mut w = self.topics.write().unwrap_or_else(|e| e.into_inner());
        w.entry(name.into())
            .or_insert_with(|| Arc::new(Topic::new(self.retention, self.queue)))
            .clone()
    }

    /// Number of topics.
    pub fn topic_count(&self) -> usize {
        self.topics.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// How many messages a subscriber may fall behind.
    pub fn queue(&self) -> u64 {
        self.queue as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_and_gap() {
        let hub = Hub::new(3, 8);
        let t = hub.topic("a");
        for i in 0..5 {
            t.publish(None, &format!("m{i}")).unwrap();
        }
        let s = t.since(0);
        assert_eq!(
            s.messages.iter().map(|m| m.seq).collect::<Vec<_>>(),
            [3, 4, 5]
        );
        assert_eq!(
            s.gap,
            Some(Gap {
                since: 0,
                first_available: 3
            })
        );
        let s = t.since(2);
        assert_eq!(s.gap, None);
        assert_eq!(s.messages.len(), 3);
        let s = t.since(4);
        assert_eq!(s.messages.iter().map(|m| m.seq).collect::<Vec<_>>(), [5]);
        assert!(t.since(5).messages.is_empty());
        assert!(t.since(99).messages.is_empty());
        assert!(valid_name("a-b_c.9") && !valid_name("") && !valid_name("a/b"));
    }
}
