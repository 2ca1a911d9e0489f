//! Writing an SSE or stream response at the front door: what its subscription has ready is
//! written by the connection's task, every frame ready at once in one write; once it is
//! caught up on a busy topic, the socket is handed to the topic's direct fan-out (`fanout`),
//! and the task sleeps until a heartbeat tick, the client, shutdown or the fan-out handing
//! the socket back (a write would have blocked) wakes it. Then it writes what the fan-out
//! left, catches up from where the fan-out left it, and hands the socket over again.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

use crate::fanout::{Conn, Framing, Pump, Sink};
use crate::front::head::{self, Io, Peer};
use crate::front::writer::{BATCH, Done, LAST_CHUNK, put, write};
use crate::message::heartbeat;
use crate::techniques::live::Live;
use crate::techniques::subscription::Event;

/// Writes `live` after `batch` (the response's head), framed as `framing`, until the stream
/// ends (`Ok`: shutdown, the terminal chunk written) or fails. `fanout_min`:
/// `--direct-fanout-min`.
pub async fn respond<S: Future<Output = ()>>(
    io: &mut Io,
    mut batch: Vec<u8>,
    framing: Framing,
    mut live: Live,
    pending: &mut Vec<u8>,
    mut stall: Pin<&mut S>,
    fanout_min: u64,
) -> Result<(), Done> {
    let chunked = framing == Framing::Chunked;
    if let Some(p) = live.prefix.take() {
        live.sub.note_sent();
        push(&mut batch, chunked, &p);
    }
    let mut held = Held::default();
    let mut end = Ok(false);
    loop {
        // Every frame ready now, up to BATCH bytes, in one write.
        let mut more = false;
        while end == Ok(false) {
            if batch.len() >= BATCH {
                more = true;
                break;
            }
            match live.sub.try_next() {
                None => break,
                Some(ev) => end = add(&mut batch, chunked, &live, ev),
            }
        }
        if end == Ok(true) && chunked {
            batch.extend_from_slice(LAST_CHUNK);
        }
        if !batch.is_empty() {
            write(io, Bytes::from(std::mem::take(&mut batch)), stall.as_mut()).await?;
        }
        match end {
            Ok(true) => return Ok(()),
            Err(done) => return Err(done),
            Ok(false) if more => continue,
            Ok(false) => {}
        }
        if live.sub.wants_fanout(fanout_min) {
            // Boxed: an idle subscriber's task does not carry the state of this wait.
            let wait = direct(io, &mut live, &mut held, framing, pending, stall.as_mut());
            let back = Box::pin(wait).await?;
            match back {
                Some(bytes) => batch = bytes,
                None => return Ok(()),
            }
            continue;
        }
        let ev = tokio::select! {
            biased;
            ev = live.sub.next() => ev,
            p = head::peer(io, pending), if pending.is_empty() => match p {
                Peer::Sent => continue,
                Peer::Gone => return Err(Done::Failed),
            },
            _ = stall.as_mut() => return Err(Done::Stalled),
        };
        end = add(&mut batch, chunked, &live, ev);
    }
}

/// Adds what `ev` asks for to `batch`: `Ok(false)` to go on, `Ok(true)` when the stream
/// ends cleanly, `Err` when it fails (a subscriber too far behind).
fn add(batch: &mut Vec<u8>, chunked: bool, live: &Live, ev: Event) -> Result<bool, Done> {
    match ev {
        Event::Message(m) => push(batch, chunked, &m.streamed(live.technique)),
        Event::Heartbeat => push(batch, chunked, heartbeat(live.technique)),
        Event::Slow => return Err(Done::Failed),
        Event::Shutdown => return Ok(true),
    }
    Ok(false)
}

/// Adds `data` to `batch`, as a chunk when `chunked` (nothing when empty: an empty chunk
/// would end the body).
fn push(batch: &mut Vec<u8>, chunked: bool, data: &[u8]) {
    if !data.is_empty() {
        put(batch, chunked, data);
    }
}

/// The sink of a response and the pump holding it; closed when the response ends however
/// it ends (its task may be dropped mid-await), so no pump writes to the socket after.
#[derive(Default)]
struct Held {
    sink: Option<Arc<Sink>>,
    pump: Option<Arc<Pump>>,
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(sink) = &self.sink {
            sink.close();
        }
        if let Some(pump) = &self.pump {
            pump.nudge();
        }
    }
}

/// Hands the socket to the topic's fan-out and waits. `Some(bytes)`: handed back, `bytes`
/// (framed) to write before going on; `None`: the stream ended (shutdown, written).
async fn direct<S: Future<Output = ()>>(
    io: &mut Io,
    live: &mut Live,
    held: &mut Held,
    framing: Framing,
    pending: &mut Vec<u8>,
    mut stall: Pin<&mut S>,
) -> Result<Option<Vec<u8>>, Done> {
    let chunked = framing == Framing::Chunked;
    let sink = held
        .sink
        .get_or_insert_with(|| {
            let conn: Arc<dyn Conn> = io.cell().clone();
            Sink::new(io.socket().clone(), conn, live.technique, framing)
        })
        .clone();
    let epoch = sink.arm(live.sub.last());
    live.sub.park();
    // Each tick asks the sink whether anything went out, not the parked subscription.
    live.sub.take_sent();
    held.pump = Some(live.sub.topic().join_fanout(sink.clone(), epoch));
    loop {
        tokio::select! {
            biased;
            _ = sink.handed_back() => {
                let back = sink.take_back();
                if back.failed {
                    return Err(Done::Failed);
                }
                let mut out = back.pending.map(Vec::from).unwrap_or_default();
                if let Some(g) = live.sub.resume(back.cursor) {
                    push(&mut out, chunked, &live.gap(&g));
                }
                return Ok(Some(out));
            }
            ev = live.sub.next() => match ev {
                Event::Heartbeat if !sink.take_sent() => {
                    let mut hb = Vec::new();
                    push(&mut hb, chunked, heartbeat(live.technique));
                    // False: the fan-out handed the socket back meanwhile (the branch above).
                    sink.write_own(Bytes::from(hb));
                }
                Event::Shutdown => {
                    // A round the fan-out left half-written goes out before the end.
                    let mut out = sink.take_back().pending.map(Vec::from).unwrap_or_default();
                    sink.close();
                    if chunked {
                        out.extend_from_slice(LAST_CHUNK);
                    }
                    write(io, Bytes::from(out), stall.as_mut()).await?;
                    return Ok(None);
                }
                // Parked: no message comes (and a heartbeat after writes is not needed).
                _ => {}
            },
            p = head::peer(io, pending), if pending.is_empty() => {
                if p == Peer::Gone {
                    return Err(Done::Failed);
                }
            }
            _ = stall.as_mut() => return Err(Done::Stalled),
        }
    }
}
