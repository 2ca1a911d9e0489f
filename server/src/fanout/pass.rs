//! One pass of a pump over its sockets: each gets, in one write, every message it lacks up to
//! the newest at its turn. The pump looks for new messages every few sockets, so a message
//! that comes mid-pass reaches the sockets further on in the same pass.
//!
//! A pass may be split: while messages come slower than a pass takes, the far half of the
//! sockets is written at the same time on a thread of the blocking pool (the writes are
//! non-blocking system calls; a thread of its own is what makes the halves run at once).
//! When messages come faster than a pass (the pump is saturated), one pump alone writes
//! them, more of them per write: on a machine whose cores the clients share, a second
//! writer then only takes CPU from the readers, and latency grows (docs/PERFORMANCE.md).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use bytes::{Bytes, BytesMut};

use super::pump::{Entry, Window};
use super::sink::{Framing, Offered, Sink};
use crate::message::Message;
use crate::metrics::Technique;

/// Sockets written between two looks for new messages.
const LOOK_EVERY: usize = 64;

/// Sockets written between two chances for the runtime's other tasks to run.
const YIELD_EVERY: usize = 512;

/// Fewest sockets for a split pass.
pub const SPLIT_MIN: usize = 2048;

/// How a pass went.
#[derive(Debug, Clone, Copy)]
pub struct Passed {
    /// Every socket still the pump's has every message up to this seq.
    pub lowest: u64,
    /// Messages came during the pass.
    pub saturated: bool,
}

/// One pass over `sinks` (the far half on another thread when `split`); drops the sinks that
/// are no longer the pump's.
pub async fn pass(w: &mut Window, sinks: &mut Vec<Entry>, split: bool) -> Passed {
    let helper = (split && sinks.len() >= SPLIT_MIN).then(|| {
        let mut far = sinks.split_off(sinks.len() / 2);
        let mut fixed = Fixed {
            messages: w.messages.clone(),
            base: w.base,
            frames: Frames::default(),
        };
        tokio::task::spawn_blocking(move || {
            let mut tally = Tally::default();
            let mut lowest = fixed.latest();
            let wrote = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut i = 0;
                while i < far.len() {
                    if offer(&mut far, i, &mut fixed, &mut tally) {
                        lowest = lowest.min(fixed.latest());
                        i += 1;
                    }
                }
            }));
            tally.flush();
            if wrote.is_err() {
                // Never leave a socket with nobody to write to it: its task takes it back.
                for (sink, epoch) in far.drain(..) {
                    sink.give_back(epoch);
                }
            }
            (far, lowest)
        })
    });
    let mut live = Live {
        w,
        frames: Frames::default(),
        picked: false,
    };
    let mut tally = Tally::default();
    let mut lowest = live.w.latest;
    let (mut i, mut done) = (0, 0);
    while i < sinks.len() {
        if done % LOOK_EVERY == 0 {
            live.look();
        }
        if offer(sinks, i, &mut live, &mut tally) {
            lowest = lowest.min(live.w.latest);
            i += 1;
        }
        done += 1;
        if done % YIELD_EVERY == 0 {
            tally.flush();
            tokio::task::yield_now().await;
        }
    }
    tally.flush();
    if let Some(h) = helper {
        // Not joined only if the runtime is shutting down: then so is every response.
        if let Ok((far, l)) = h.await {
            lowest = lowest.min(l);
            sinks.extend(far);
        }
    }
    live.look(); // one that came at the very end counts too
    Passed {
        lowest,
        saturated: live.picked,
    }
}

/// Offers sink `i` what it lacks from `src`; false (and the sink is dropped) when it is no
/// longer the pump's.
fn offer(sinks: &mut Vec<Entry>, i: usize, src: &mut impl Source, tally: &mut Tally) -> bool {
    let (sink, epoch) = &sinks[i];
    let (t, f) = (sink.technique(), sink.framing());
    let o = sink.offer(*epoch, src.latest(), |cursor| src.after(cursor, t, f));
    tally.add(sink, &o);
    if !o.kept {
        sinks.swap_remove(i);
    }
    o.kept
}

/// Where a pass takes its messages from.
trait Source {
    fn latest(&self) -> u64;
    fn after(&mut self, cursor: u64, t: Technique, f: Framing) -> Option<(Bytes, usize)>;
}

/// The pump's window, new messages taken as they come.
struct Live<'a> {
    w: &'a mut Window,
    frames: Frames,
    picked: bool,
}

impl Live<'_> {
    fn look(&mut self) {
        if self.w.take_new() {
            self.picked = true;
            self.frames.made.clear(); // framed up to an older newest
        }
    }
}

impl Source for Live<'_> {
    fn latest(&self) -> u64 {
        self.w.latest
    }
    fn after(&mut self, cursor: u64, t: Technique, f: Framing) -> Option<(Bytes, usize)> {
        self.frames
            .after(&self.w.messages, self.w.base, cursor, t, f)
    }
}

/// The messages there were when a split pass began (its far half's).
struct Fixed {
    messages: Vec<Arc<Message>>,
    base: u64,
    frames: Frames,
}

impl Source for Fixed {
    fn latest(&self) -> u64 {
        self.messages.last().map_or(self.base, |m| m.seq)
    }
    fn after(&mut self, cursor: u64, t: Technique, f: Framing) -> Option<(Bytes, usize)> {
        self.frames.after(&self.messages, self.base, cursor, t, f)
    }
}

/// Messages after a cursor, framed for a technique and framing, made once for all the
/// sockets at that cursor (until new messages come).
#[derive(Default)]
struct Frames {
    made: HashMap<(u64, usize), (Bytes, usize)>,
}

impl Frames {
    /// The `messages` (those after `base`) after `cursor`, framed, and how many; `None` if
    /// they do not reach back to `cursor`.
    fn after(
        &mut self,
        messages: &[Arc<Message>],
        base: u64,
        cursor: u64,
        t: Technique,
        f: Framing,
    ) -> Option<(Bytes, usize)> {
        if cursor < base {
            return None;
        }
        let slot = usize::from(t == Technique::Stream) * 2 + usize::from(f == Framing::Chunked);
        let made = self.made.entry((cursor, slot)).or_insert_with(|| {
            let rest = &messages[messages.partition_point(|m| m.seq <= cursor)..];
            (frame(rest, t, f), rest.len())
        });
        Some(made.clone())
    }
}

/// `messages` as the body bytes of a `t` response framed as `f` (one chunk for them all).
pub fn frame(messages: &[Arc<Message>], t: Technique, f: Framing) -> Bytes {
    let len: usize = messages.iter().map(|m| m.streamed(t).len()).sum();
    let mut out = BytesMut::with_capacity(len + 16);
    if f == Framing::Chunked {
        out.extend_from_slice(format!("{len:X}\r\n").as_bytes());
    }
    for m in messages {
        out.extend_from_slice(&m.streamed(t));
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
