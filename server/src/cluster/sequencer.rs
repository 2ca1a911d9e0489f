//! The supervisor's sequencer: the one place where sequence numbers are assigned. It keeps
//! each topic's newest seq, relays every message to every child (the same encoded frame to
//! each), answers the publishing child after relaying, and gathers every child's figures for
//! `/stats` (or resets them) on behalf of the child that asked. A child that dies is detached
//! (nothing waits for it); its replacement is attached with a seed: every topic's newest seq.

use std::collections::HashMap;
use std::time::Instant;

use bytes::Bytes;
use contract::stats::Stats;
use tokio::sync::mpsc;

use super::{ToChild, ToSupervisor, Totals, encode, merge};
use crate::hub::TopicLimit;
use crate::metrics;

/// What one child contributed to a collection.
#[derive(Debug)]
enum Part {
    /// Not yet.
    Waiting,
    /// Its `/stats` (`None`: it is dead, or this is a reset it acknowledged).
    Answered(Option<Box<Stats>>),
}

/// A `/stats` collection or a reset in progress.
#[derive(Debug)]
struct Collection {
    origin: usize,
    req: u64,
    reset: bool,
    parts: Vec<Part>,
}

/// Topics per [`ToChild::Seed`] frame (a frame stays well under the frame limit).
const SEED_CHUNK: usize = 10_000;

/// The supervisor's state, owned by its one loop.
#[derive(Debug)]
pub struct Sequencer {
    /// The channel to each child; `None` while it is dead or being restarted.
    writers: Vec<Option<mpsc::UnboundedSender<Bytes>>>,
    seqs: HashMap<String, u64>,
    published: u64,
    restarts: u64,
    started: Instant,
    collections: HashMap<u64, Collection>,
    next_collect: u64,
    max_topics: usize,
}

impl Sequencer {
    /// A sequencer for `n` children (none attached yet), admitting at most `max_topics`
    /// topics.
    pub fn new(n: usize, max_topics: usize) -> Sequencer {
        Sequencer {
            writers: vec![None; n],
            seqs: HashMap::new(),
            published: 0,
            restarts: 0,
            started: Instant::now(),
            collections: HashMap::new(),
            next_collect: 1,
            max_topics,
        }
    }

    /// Child `i` is connected through `writer`: it is sent the newest seq of every topic
    /// ([`ToChild::Seed`], before anything else) and, from now on, every message.
    pub fn attach(&mut self, i: usize, writer: mpsc::UnboundedSender<Bytes>) {
        let topics: Vec<(String, u64)> = self.seqs.iter().map(|(t, s)| (t.clone(), *s)).collect();
        let mut chunks = topics.chunks(SEED_CHUNK).peekable();
        if chunks.peek().is_none() {
            let _ = writer.send(encode(&ToChild::Seed {
                topics: Vec::new(),
                done: true,
            }));
        }
        while let Some(c) = chunks.next() {
            let _ = writer.send(encode(&ToChild::Seed {
                topics: c.to_vec(),
                done: chunks.peek().is_none(),
            }));
        }
        if let Some(w) = self.writers.get_mut(i) {
            *w = Some(writer);
        }
    }

    /// Child `i` is gone: nothing more is sent to it, and collections in progress no longer
    /// wait for it.
    pub fn detach(&mut self, i: usize) {
        if let Some(w) = self.writers.get_mut(i) {
            *w = None;
        }
        let pending: Vec<u64> = self.collections.keys().copied().collect();
        for collect in pending {
            self.collected(i, collect, None);
        }
    }

    /// Counts a child that was restarted.
    pub fn restarted(&mut self) {
        self.restarts += 1;
    }

    /// The channels to the live children.
    pub fn writers(&self) -> Vec<mpsc::UnboundedSender<Bytes>> {
        self.writers.iter().flatten().cloned().collect()
    }

    /// The newest seq of `topic` (0: nothing published yet).
    pub fn latest(&self, topic: &str) -> u64 {
        self.seqs.get(topic).copied().unwrap_or(0)
    }

    fn send(&self, i: usize, msg: &ToChild) {
        if let Some(Some(w)) = self.writers.get(i) {
            let _ = w.send(encode(msg));
        }
    }

    fn broadcast(&self, msg: &ToChild) {
        let f = encode(msg);
        for w in self.writers.iter().flatten() {
            let _ = w.send(f.clone());
        }
    }

    /// Assigns the next seq of `topic` and relays the message to every child.
    pub fn publish(&mut self, topic: &str, event: Option<&str>, data: &str) -> Result<u64, String> {
        if !self.seqs.contains_key(topic) && self.seqs.len() >= self.max_topics {
            return Err(TopicLimit(self.max_topics).to_string());
        }
        let seq = self.seqs.entry(topic.to_string()).or_insert(0);
        *seq += 1;
        let seq = *seq;
        self.broadcast(&ToChild::Message {
            topic: topic.to_string(),
            seq,
            event: event.map(str::to_string),
            data: data.to_string(),
        });
        self.published += 1;
        Ok(seq)
    }

    fn start_collection(&mut self, origin: usize, req: u64, reset: bool) {
        let collect = self.next_collect;
        self.next_collect += 1;
        // A dead child has nothing to say (its part is null).
        let parts = self
            .writers
            .iter()
            .map(|w| {
                if w.is_some() {
                    Part::Waiting
                } else {
                    Part::Answered(None)
                }
            })
            .collect();
        self.collections.insert(
            collect,
            Collection {
                origin,
                req,
                reset,
                parts,
            },
        );
        if reset {
            self.published = 0;
            self.restarts = 0;
            self.broadcast(&ToChild::Reset { collect });
        } else {
            self.broadcast(&ToChild::Collect { collect });
        }
    }

    fn collected(&mut self, i: usize, collect: u64, part: Option<Stats>) {
        let Some(c) = self.collections.get_mut(&collect) else {
            return;
        };
        if let Some(slot @ Part::Waiting) = c.parts.get_mut(i) {
            *slot = Part::Answered(part.map(Box::new));
        }
        if c.parts.iter().any(|p| matches!(p, Part::Waiting)) {
            return;
        }
        let Some(c) = self.collections.remove(&collect) else {
            return;
        };
        if c.reset {
            self.send(c.origin, &ToChild::WasReset { req: c.req });
            return;
        }
        let parts: Vec<Option<Stats>> = c
            .parts
            .into_iter()
            .map(|p| match p {
                Part::Answered(s) => s.map(|s| *s),
                Part::Waiting => None,
            })
            .collect();
        let totals = Totals {
            published: self.published,
            child_restarts: self.restarts,
            uptime_s: self.started.elapsed().as_secs_f64(),
        };
        let stats = Box::new(merge(&parts, metrics::process(), totals));
        self.send(c.origin, &ToChild::Stats { req: c.req, stats });
    }

    /// Handles a frame from child `i`.
    pub fn handle(&mut self, i: usize, msg: ToSupervisor) {
        match msg {
            ToSupervisor::Publish {
                req,
                topic,
                event,
                data,
            } => {
                // The message reaches this child before the answer (one ordered socket), so
                // it is in the child's hub when the child answers the publish.
                let result = self.publish(&topic, event.as_deref(), &data);
                self.send(i, &ToChild::Published { req, result });
            }
            ToSupervisor::Sync { req, topic } => {
                // Sent behind every message relayed to child `i` so far: once the child reads
                // it, its hub holds the topic up to `seq`.
                let seq = self.latest(&topic);
                self.send(i, &ToChild::Synced { req, seq });
            }
            ToSupervisor::Stats { req } => self.start_collection(i, req, false),
            ToSupervisor::Reset { req } => self.start_collection(i, req, true),
            ToSupervisor::Local { collect, stats } => self.collected(i, collect, Some(*stats)),
            ToSupervisor::ResetDone { collect } => self.collected(i, collect, None),
            ToSupervisor::Ready { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests;
