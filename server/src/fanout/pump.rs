//! A pump: the one task writing a topic's messages to the sockets handed to it. It goes round
//! its sockets in passes (`pass`), each socket getting everything it lacks in one write, and
//! rests when every socket has everything. It adopts the sockets that join between passes
//! and hands every socket back if it ever falls behind the topic.

use std::sync::Arc;

use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};

use super::Pump;
use super::pass::pass;
use super::sink::Sink;
use crate::message::Message;

/// A sink and the epoch it was handed over at.
pub type Entry = (Arc<Sink>, u64);

/// The messages a pump holds: every one after `base` (which every socket has) up to `latest`.
pub struct Window {
    rx: broadcast::Receiver<Arc<Message>>,
    pub messages: Vec<Arc<Message>>,
    pub base: u64,
    pub latest: u64,
    /// The receiver fell behind the topic: messages went by unseen.
    behind: bool,
}

impl Window {
    /// Takes what the receiver holds now; true if anything came.
    pub fn take_new(&mut self) -> bool {
        let mut any = false;
        while !self.behind {
            match self.rx.try_recv() {
                Ok(m) => any |= self.push(m),
                Err(TryRecvError::Lagged(_)) => self.behind = true,
                Err(TryRecvError::Closed) => self.behind = true,
                Err(TryRecvError::Empty) => break,
            }
        }
        any
    }

    fn push(&mut self, m: Arc<Message>) -> bool {
        if m.seq <= self.latest {
            return false;
        }
        self.latest = m.seq;
        self.messages.push(m);
        true
    }

    /// Every socket has every message up to `upto`: forget those.
    fn forget_up_to(&mut self, upto: u64) {
        let known = self.messages.partition_point(|m| m.seq <= upto);
        self.messages.drain(..known);
        self.base = self.base.max(upto);
    }
}

/// Runs the pump of `pump` on the topic's receiver `rx`, which stands at seq `at`, until it
/// has no subscriber left (or falls behind the topic: then every subscriber is handed back).
pub async fn run(pump: Arc<Pump>, rx: broadcast::Receiver<Arc<Message>>, at: u64) {
    let mut sinks: Vec<Entry> = Vec::new();
    let split_ok = tokio::runtime::Handle::current().metrics().num_workers() > 1;
    let mut saturated = false;
    let mut w = Window {
        rx,
        messages: Vec::new(),
        base: at,
        latest: at,
        behind: false,
    };
    loop {
        if !adopt(&pump, &mut sinks, w.base) {
            return;
        }
        if w.latest == w.base && !w.take_new() {
            // Everyone has everything: rest until a message or a joiner comes.
            tokio::select! {
                biased;
                r = w.rx.recv() => match r {
                    Ok(m) => {
                        w.push(m);
                    }
                    Err(RecvError::Lagged(_) | RecvError::Closed) => w.behind = true,
                },
                _ = pump.wake.notified() => {
                    sinks.retain(|(s, e)| s.is_armed(*e));
                    continue;
                }
            }
        }
        if w.behind {
            // Messages went by that this pump never saw: every subscriber's task catches up
            // on its own, from its cursor.
            retire(&pump, &mut sinks);
            return;
        }
        let passed = pass(&mut w, &mut sinks, split_ok && !saturated).await;
        saturated = passed.saturated;
        w.forget_up_to(passed.lowest);
    }
}

/// Takes the sinks that joined (those with every message up to `base`); false (and the pump
/// is no longer running) when none is left.
fn adopt(pump: &Pump, sinks: &mut Vec<Entry>, base: u64) -> bool {
    let mut j = pump.lock();
    for (sink, epoch) in j.incoming.drain(..) {
        if sink.adopt(epoch, base) {
            sinks.push((sink, epoch));
        }
    }
    if sinks.is_empty() {
        j.running = false;
        return false;
    }
    true
}

/// Hands every sink back to its task and stops.
fn retire(pump: &Pump, sinks: &mut Vec<Entry>) {
    let mut j = pump.lock();
    for (sink, epoch) in sinks.drain(..).chain(j.incoming.drain(..)) {
        sink.give_back(epoch);
    }
    j.running = false;
}
