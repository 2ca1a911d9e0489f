//! The message hub: topics, each with its sequence counter, a bounded retention buffer for
//! catch-up, and a broadcast channel for live fan-out. A publish never waits on a subscriber:
//! the broadcast ring overwrites the oldest entry and a subscriber that fell that far behind
//! sees `Lagged` (and is disconnected by its technique).
//!
//! A topic is held through a [`TopicHandle`]. A topic that has never had a message is removed
//! from the hub when its last handle goes (its last long poll, stream, SSE or WebSocket
//! subscriber left), so reads of names that hold nothing never use up `--max-topics`; a topic
//! that had a message stays.

use std::collections::{HashMap, VecDeque};
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::broadcast;

use crate::fanout::{Fanout, Pump, Sink};
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
    /// Live [`TopicHandle`]s; changed only under the hub's map lock (read lock to add one,
    /// write lock to drop one), so the hub can tell an unused topic without a race.
    users: AtomicUsize,
    /// The direct fan-out's pumps (`fanout`), started by the first subscriber handed over.
    fanout: Fanout,
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

impl Snapshot {
    /// What a topic that does not exist (never had a message here) gives a client at cursor
    /// `since`: nothing, with a gap when the cursor is above 0 (from an earlier life).
    pub fn of_missing(since: u64) -> Snapshot {
        Topic::snapshot_locked(&Inner::default(), since)
    }
}

impl Topic {
    fn new(retention: usize, queue: usize) -> Topic {
        let (tx, _) = broadcast::channel(queue.max(1));
        Topic {
            inner: Mutex::new(Inner::default()),
            tx,
            latest: AtomicU64::new(0),
            retention: retention.max(1),
            users: AtomicUsize::new(0),
            fanout: Fanout::new(),
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
        self.insert_locked(&mut g, seq, event, data)?;
        Ok(seq)
    }

    /// Inserts a message whose sequence number was assigned elsewhere (a cluster's
    /// supervisor), with the same retention and fan-out as [`Topic::publish`]. A `seq` not
    /// above the newest one is a duplicate and ignored (returns false). A `seq` that skips
    /// numbers empties the retention buffer first, so what is retained stays contiguous and a
    /// client asking for the skipped ones is told of a gap.
    pub fn insert(&self, seq: u64, event: Option<&str>, data: &str) -> Result<bool, EncodeError> {
        let mut g = self.lock();
        if seq <= g.last_seq {
            return Ok(false);
        }
        if seq != g.last_seq + 1 {
            g.retained.clear();
        }
        self.insert_locked(&mut g, seq, event, data)?;
        Ok(true)
    }

    fn insert_locked(
        &self,
        g: &mut Inner,
        seq: u64,
        event: Option<&str>,
        data: &str,
    ) -> Result<(), EncodeError> {
        let msg = Arc::new(Message::new(seq, event, data)?);
        g.last_seq = seq;
        g.retained.push_back(msg.clone());
        while g.retained.len() > self.retention {
            g.retained.pop_front();
        }
        self.latest.store(seq, Relaxed);
        // No receivers is fine: nobody is listening.
        let _ = self.tx.send(msg);
        Ok(())
    }

    /// Starts a topic that has had no message here at `seq`, the newest seq it had elsewhere
    /// (a cluster process started after it): nothing is retained, so a client asking for
    /// anything up to `seq` is told of a gap. Ignored once the topic has messages.
    pub fn seed(&self, seq: u64) {
        let mut g = self.lock();
        if g.last_seq == 0 && g.retained.is_empty() {
            g.last_seq = seq;
            self.latest.store(seq, Relaxed);
        }
    }

    fn snapshot_locked(g: &Inner, since: u64) -> Snapshot {
        let mut snap = Snapshot {
            latest: g.last_seq,
            ..Snapshot::default()
        };
        if since == g.last_seq {
            // Up to date: nothing to give, wait for the next.
            return snap;
        }
        let Some(oldest) = g.retained.front().map(|m| m.seq) else {
            // Nothing retained: messages exist but are all gone (a seeded topic), or the
            // cursor is ahead of the newest seq (see below). Either way the next one to come
            // is `last_seq + 1`.
            snap.gap = Some(Gap {
                since,
                first_available: g.last_seq + 1,
            });
            return snap;
        };
        // `since > last_seq`: a cursor this topic never issued, i.e. from an earlier life of
        // the server (restarted: retention lost, ids start over). Announced as a gap, then
        // everything retained, so the client counts it and resumes in the new numbering.
        // (In a cluster the caller first makes sure this process is not merely behind the
        // supervisor: see `Shared::await_cursor`.)
        if since > g.last_seq || since + 1 < oldest {
            snap.gap = Some(Gap {
                since,
                first_available: oldest,
            });
        }
        let skip = if since > g.last_seq {
            0
        } else {
            (since + 1).saturating_sub(oldest) as usize
        };
        snap.messages = g.retained.iter().skip(skip).cloned().collect();
        snap
    }

    /// How many handles (subscribers, held long polls, publishes under way) the topic has.
    pub fn users(&self) -> usize {
        self.users.load(Relaxed)
    }

    /// Hands a caught-up subscriber's socket to the topic's direct fan-out (see `fanout`).
    pub fn join_fanout(&self, sink: Arc<Sink>, epoch: u64) -> Arc<Pump> {
        self.fanout.join(sink, epoch, || {
            let g = self.lock();
            (self.tx.subscribe(), g.last_seq)
        })
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

type Map = RwLock<HashMap<Box<str>, Arc<Topic>>>;

fn read(map: &Map) -> std::sync::RwLockReadGuard<'_, HashMap<Box<str>, Arc<Topic>>> {
    map.read().unwrap_or_else(|e| e.into_inner())
}

fn write(map: &Map) -> std::sync::RwLockWriteGuard<'_, HashMap<Box<str>, Arc<Topic>>> {
    map.write().unwrap_or_else(|e| e.into_inner())
}

/// A topic in use: keeps it in its hub while it lives. Dropping the last handle of a topic
/// that never had a message removes the topic from the hub.
#[derive(Debug)]
pub struct TopicHandle {
    topic: Arc<Topic>,
    name: Box<str>,
    map: Arc<Map>,
}

impl TopicHandle {
    /// Takes a handle on `topic` (an entry of `map`); the caller holds `map`'s lock.
    fn new(topic: &Arc<Topic>, name: &str, map: &Arc<Map>) -> TopicHandle {
        topic.users.fetch_add(1, Relaxed);
        TopicHandle {
            topic: topic.clone(),
            name: name.into(),
            map: map.clone(),
        }
    }

    /// The topic itself, for a holder that must not keep it in the hub (e.g. a connection's
    /// slow-reader check).
    pub fn shared(&self) -> Arc<Topic> {
        self.topic.clone()
    }
}

impl Deref for TopicHandle {
    type Target = Topic;
    fn deref(&self) -> &Topic {
        &self.topic
    }
}

impl Drop for TopicHandle {
    fn drop(&mut self) {
        if self.topic.latest() != 0 {
            // A topic that had a message is never removed: the count no longer matters.
            self.topic.users.fetch_sub(1, Relaxed);
            return;
        }
        let mut w = write(&self.map);
        let last = self.topic.users.fetch_sub(1, Relaxed) == 1;
        // Under the write lock no handle can be taken, and a publish needs a handle: an
        // unused topic without a message stays so until it is removed.
        if last
            && self.topic.latest() == 0
            && w.get(&self.name)
                .is_some_and(|t| Arc::ptr_eq(t, &self.topic))
        {
            w.remove(&self.name);
        }
    }
}

/// All topics of one server.
#[derive(Debug)]
pub struct Hub {
    topics: Arc<Map>,
    retention: usize,
    queue: usize,
    max_topics: usize,
}

/// A new topic was refused: the hub already holds `--max-topics` topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many topics: the server holds its limit of {0} (--max-topics)")]
pub struct TopicLimit(pub usize);

impl Hub {
    /// A hub keeping `retention` messages per topic; subscribers may lag `queue` messages;
    /// at most `max_topics` topics are created (see [`Hub::topic`]).
    pub fn new(retention: usize, queue: usize, max_topics: usize) -> Hub {
        Hub {
            topics: Arc::new(RwLock::new(HashMap::new())),
            retention,
            queue,
            max_topics,
        }
    }

    /// The topic called `name`, created if needed unless the hub already holds
    /// `max_topics` topics. `name` must be valid (see [`valid_name`]).
    pub fn topic(&self, name: &str) -> Result<TopicHandle, TopicLimit> {
        self.get_or_create(name, false)
    }

    /// The topic called `name`, created if needed even past `max_topics` (for messages whose
    /// topic a cluster's supervisor already admitted).
    pub fn topic_unlimited(&self, name: &str) -> TopicHandle {
        match self.get_or_create(name, true) {
            Ok(t) => t,
            Err(_) => unreachable!("unlimited creation cannot hit the limit"),
        }
    }

    /// The topic called `name` if it exists (never creates one: a read of a topic that does
    /// not exist must not take a slot).
    pub fn get(&self, name: &str) -> Option<TopicHandle> {
        let r = read(&self.topics);
        r.get(name).map(|t| TopicHandle::new(t, name, &self.topics))
    }

    fn get_or_create(&self, name: &str, unlimited: bool) -> Result<TopicHandle, TopicLimit> {
        if let Some(t) = self.get(name) {
            return Ok(t);
        }
        let mut w = write(&self.topics);
        if let Some(t) = w.get(name) {
            return Ok(TopicHandle::new(t, name, &self.topics));
        }
        if !unlimited && w.len() >= self.max_topics {
            return Err(TopicLimit(self.max_topics));
        }
        let t = Arc::new(Topic::new(self.retention, self.queue));
        w.insert(name.into(), t.clone());
        Ok(TopicHandle::new(&t, name, &self.topics))
    }

    /// Every topic that had a message here, with its newest seq.
    pub fn topics_with_messages(&self) -> Vec<(String, u64)> {
        read(&self.topics)
            .iter()
            .filter(|(_, t)| t.latest() > 0)
            .map(|(name, t)| (name.to_string(), t.latest()))
            .collect()
    }

    /// Number of topics.
    pub fn topic_count(&self) -> usize {
        read(&self.topics).len()
    }

    /// How many messages a subscriber may fall behind.
    pub fn queue(&self) -> u64 {
        self.queue as u64
    }
}

#[cfg(test)]
mod tests;
