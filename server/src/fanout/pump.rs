//! A pump: one task writing a topic's messages to its share of the subscribers' sockets, a
//! round at a time (every message that came since the last round, framed once).

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use bytes::{Bytes, BytesMut};
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};

use super::Shard;
use super::sink::{Framing, Offered, Sink};
use crate::message::Message;
use crate::metrics::Technique;

/// Most messages in one round.
const MAX_ROUND: usize = 256;

/// Sockets written between two chances for the runtime's other tasks to run.
const YIELD_EVERY: usize = 512;

/// Runs the pump of `shard` on the topic's receiver `rx`, which stands at seq `at`, until it
/// has no subscriber left (or falls behind the topic: then every subscriber is handed back).
pub async fn run(shard: Arc<Shard>, mut rx: broadcast::Receiver<Arc<Message>>, mut at: u64) {
    let mut sinks: Vec<(Arc<Sink>, u64)> = Vec::new();
    loop {
        if !adopt(&shard, &mut sinks, at) {
            return;
        }
        let first = tokio::select! {
            biased;
            r = rx.recv() => r,
            _ = shard.wake.notified() => {
                sinks.retain(|(s, e)| s.is_armed(*e));
                continue;
            }
        };
        let mut round = Vec::new();
        let mut behind = false;
        match first {
            Ok(m) => round.push(m),
            Err(RecvError::Lagged(_)) => behind = true,
            Err(RecvError::Closed) => behind = true,
        }
        while !behind && round.len() < MAX_ROUND {
            match rx.try_recv() {
                Ok(m) => round.push(m),
                Err(TryRecvError::Lagged(_)) => behind = true,
                Err(_) => break,
            }
        }
        round.retain(|m| m.seq > at);
        if let Some(last) = round.last().map(|m| m.seq) {
            fan_out(&round, at, &mut sinks).await;
            at = last;
        }
        if behind {
            // Messages went by that this pump never saw: every subscriber's task catches up
            // on its own, from its cursor.
            retire(&shard, &mut sinks);
            return;
        }
    }
}

/// Takes the sinks that joined; false (and the pump is no longer running) when none is left.
fn adopt(shard: &Shard, sinks: &mut Vec<(Arc<Sink>, u64)>, at: u64) -> bool {
    let mut j = shard.lock();
    for (sink, epoch) in j.incoming.drain(..) {
        if sink.adopt(epoch, at) {
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
fn retire(shard: &Shard, sinks: &mut Vec<(Arc<Sink>, u64)>) {
    let mut j = shard.lock();
    for (sink, epoch) in sinks.drain(..).chain(j.incoming.drain(..)) {
        sink.give_back(epoch);
    }
    j.running = false;
}

/// Writes `round` (messages after `at`) to every sink, dropping those that are no longer the
/// pump's.
async fn fan_out(round: &[Arc<Message>], at: u64, sinks: &mut Vec<(Arc<Sink>, u64)>) {
    let last = round.last().map_or(at, |m| m.seq);
    let mut frames = Frames::new(round, at);
    let mut tally = Tally::default();
    let mut i = 0;
    let mut done = 0;
    while i < sinks.len() {
        let (sink, epoch) = &sinks[i];
        let (t, f) = (sink.technique(), sink.framing());
        let o = sink.offer(*epoch, last, |cursor| frames.after(cursor, t, f));
        tally.add(sink, &o);
        if o.kept {
            i += 1;
        } else {
            sinks.swap_remove(i);
        }
        done += 1;
        if done % YIELD_EVERY == 0 {
            tally.flush();
            tokio::task::yield_now().await;
        }
    }
    tally.flush();
}

/// A round's messages framed for each technique and framing, made once when first needed.
struct Frames<'a> {
    round: &'a [Arc<Message>],
    at: u64,
    made: [Option<Bytes>; 4],
}

impl<'a> Frames<'a> {
    fn new(round: &'a [Arc<Message>], at: u64) -> Frames<'a> {
        Frames {
            round,
            at,
            made: Default::default(),
        }
    }

    /// The messages after `cursor`, framed, and how many; `None` if the round does not reach
    /// back to `cursor`.
    fn after(&mut self, cursor: u64, t: Technique, f: Framing) -> Option<(Bytes, usize)> {
        if cursor < self.at {
            return None;
        }
        let slot = usize::from(t == Technique::Stream) * 2 + usize::from(f == Framing::Chunked);
        let first = self.round.first()?.seq;
        if cursor < first {
            let round = self.round;
            let bytes = self.made[slot].get_or_insert_with(|| frame(round, t, f));
            return Some((bytes.clone(), round.len()));
        }
        let rest: Vec<Arc<Message>> = self
            .round
            .iter()
            .filter(|m| m.seq > cursor)
            .cloned()
            .collect();
        Some((frame(&rest, t, f), rest.len()))
    }
}

/// `messages` as the body bytes of a `t` response framed as `f` (one chunk for them all).
pub fn frame(messages: &[Arc<Message>], t: Technique, f: Framing) -> Bytes {
    let encode = |m: &Message| {
        if t == Technique::Stream {
            m.ndjson()
        } else {
            m.sse()
        }
    };
    let len: usize = messages.iter().map(|m| encode(m).len()).sum();
    let mut out = BytesMut::with_capacity(len + 16);
    if f == Framing::Chunked {
        out.extend_from_slice(format!("{len:X}\r\n").as_bytes());
    }
    for m in messages {
        out.extend_from_slice(&encode(m));
    }
    if f == Framing::Chunked {
        out.extend_from_slice(b"\r\n");
    }
    out.freeze()
}

/// Bytes and messages delivered, added to the server's counters a few times a round rather
/// than once a socket (every connection shares those counters).
#[derive(Default)]
struct Tally {
    to: Option<Arc<Sink>>,
    /// SSE, stream: (bytes, messages).
    counts: [(u64, u64); 2],
}

impl Tally {
    fn add(&mut self, sink: &Arc<Sink>, o: &Offered) {
        let i = usize::from(sink.technique() == Technique::Stream);
        self.counts[i].0 += o.bytes as u64;
        self.counts[i].1 += o.messages as u64;
        if self.to.is_none() {
            self.to = Some(sink.clone());
        }
    }

    fn flush(&mut self) {
        let Some(sink) = &self.to else { return };
        let m = sink.conn().metrics();
        for (t, (bytes, messages)) in [Technique::Sse, Technique::Stream]
            .into_iter()
            .zip(std::mem::take(&mut self.counts))
        {
            if bytes > 0 {
                m.of(t).bytes_written.fetch_add(bytes, Relaxed);
            }
            if messages > 0 {
                m.of(t).delivered.fetch_add(messages, Relaxed);
                m.of(t).direct_delivered.fetch_add(messages, Relaxed);
            }
        }
    }
}
