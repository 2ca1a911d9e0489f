//! One direction of one emulated connection: a token-bucket pacer for the bandwidth, then a
//! delay line for the one-way delay (plus jitter, in order), with a bounded queue.
//!
//! Bytes read from the source become segments. With a bandwidth, a segment leaves the pacer
//! when its last byte has been serialized at that rate (a token bucket with no burst beyond
//! one segment, so a 64 KiB payload at 1 mbit/s takes its ~0.52 s), and segments are cut
//! about 1 ms of serialization long (at least one 1460-byte MSS), so the far end sees bytes
//! trickle in as on a real link. Each segment is then due one one-way delay later, plus a
//! jitter draw, never before the segment ahead of it (bytes stay in order). Due segments
//! are written to the destination; while the destination does not take them, they wait.
//!
//! The queue is bounded (see [`queue_bound`]): once that many bytes wait, the pipe stops
//! reading its source, so the sender's socket fills as it does in front of a narrow link.

use std::collections::VecDeque;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::rate::Rate;
use super::stats::DirCounters;

/// Most bytes taken from the source in one read.
const READ_CHUNK: usize = 16 * 1024;
/// Smallest segment cut from paced bytes: one Ethernet MSS.
const MIN_SEGMENT: usize = 1460;
/// Largest segment cut from paced bytes.
const MAX_SEGMENT: usize = 64 * 1024;
/// Queue room beyond the bandwidth-delay product (a router's buffer, a socket's buffer).
pub const QUEUE_SLACK: usize = 64 * 1024;
/// Queue bound of a direction without a bandwidth limit: about a Linux TCP window.
pub const UNLIMITED_QUEUE: usize = 1024 * 1024;
/// Largest bound, whatever the bandwidth-delay product.
const MAX_QUEUE: usize = 16 * 1024 * 1024;
/// Rounds of read-and-deliver in one poll before yielding to other connections.
const MAX_ROUNDS: usize = 32;

/// How many bytes may wait in one direction of a link with `rate` and `rtt`: the
/// bandwidth-delay product plus [`QUEUE_SLACK`], or [`UNLIMITED_QUEUE`] without a rate.
pub fn queue_bound(rate: Option<Rate>, rtt: Duration) -> usize {
    match rate {
        Some(r) => {
            let bdp = (r.bytes_per_s() * rtt.as_secs_f64()) as usize;
            bdp.saturating_add(QUEUE_SLACK).min(MAX_QUEUE)
        }
        None => UNLIMITED_QUEUE,
    }
}

/// How one direction shapes its bytes.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub delay: Duration,
    pub jitter: Duration,
    pub rate: Option<Rate>,
    pub bound: usize,
}

impl Shape {
    fn segment(&self) -> usize {
        match self.rate {
            Some(r) => ((r.bytes_per_s() / 1000.0) as usize).clamp(MIN_SEGMENT, MAX_SEGMENT),
            None => usize::MAX,
        }
    }
    fn transparent(&self) -> bool {
        self.delay.is_zero() && self.jitter.is_zero() && self.rate.is_none()
    }
}

/// How a direction ends, queued behind its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The sender half-closed: shut the destination's write side down.
    Fin,
    /// The connection was reset: the far end must see an error.
    Reset,
    /// The client dropped its stream: close the connection.
    Close,
}

enum Item {
    Data(Bytes),
    End(End),
}

struct Segment {
    due: Instant,
    item: Item,
}

/// What a poll of a pipe has to report to its connection.
#[derive(Debug)]
pub enum Outcome {
    /// The source has no more bytes (the connection queues an [`End`]).
    SrcEof,
    /// Reading the source failed (the connection is dead).
    SrcError,
    /// Writing the destination failed (its reader is gone).
    DstError,
    /// An [`End`] came out of the delay line (a `Fin` after shutting the destination).
    Ended(End),
}

/// One direction's state.
pub struct Pipe {
    shape: Shape,
    segment: usize,
    queue: VecDeque<Segment>,
    /// Bytes in `queue`.
    queued: usize,
    /// When the pacer is free again (token bucket's virtual time).
    tx_free: Instant,
    /// Due time of the last queued segment (keeps jittered segments in order).
    last_due: Instant,
    sleep: Pin<Box<Sleep>>,
    reading: bool,
    counters: Arc<DirCounters>,
}

impl Pipe {
    pub fn new(shape: Shape, counters: Arc<DirCounters>) -> Pipe {
        let now = Instant::now();
        Pipe {
            shape,
            segment: shape.segment(),
            queue: VecDeque::new(),
            queued: 0,
            tx_free: now,
            last_due: now,
            sleep: Box::pin(tokio::time::sleep_until(now)),
            reading: true,
            counters,
        }
    }

    /// Queues `end` behind the data; the source is not read any more.
    pub fn push_end(&mut self, end: End) {
        self.reading = false;
        let now = Instant::now();
        let due = (now.max(self.tx_free) + self.shape.delay).max(self.last_due);
        self.last_due = due;
        self.queue.push_back(Segment {
            due,
            item: Item::End(end),
        });
    }

    /// Drops everything queued and stops: the direction is dead.
    pub fn stop(&mut self) {
        self.reading = false;
        self.queue.clear();
        self.unqueue(self.queued);
    }

    /// Moves bytes from `src` into the delay line and due bytes from it into `dst`.
    /// `Pending` when nothing more can happen until a wake-up (timer, readiness).
    pub fn poll<R, W>(&mut self, cx: &mut Context<'_>, src: &mut R, dst: &mut W) -> Poll<Outcome>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        for _ in 0..MAX_ROUNDS {
            let delivered = match self.deliver(cx, dst) {
                Ok(p) => p,
                Err(o) => return Poll::Ready(o),
            };
            let read = match self.read(cx, src, dst) {
                Ok(p) => p,
                Err(o) => return Poll::Ready(o),
            };
            if !delivered && !read {
                return Poll::Pending;
            }
        }
        // Plenty done: let the other connections on this thread run, then continue.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Writes due segments to `dst`; `Ok(true)` if any byte moved.
    fn deliver<W: AsyncWrite + Unpin>(
        &mut self,
        cx: &mut Context<'_>,
        dst: &mut W,
    ) -> Result<bool, Outcome> {
        let mut progressed = false;
        while let Some(head) = self.queue.front_mut() {
            if head.due > Instant::now() {
                if self.sleep.deadline() != head.due {
                    self.sleep.as_mut().reset(head.due);
                }
                if self.sleep.as_mut().poll(cx).is_pending() {
                    break;
                }
                // The timer fired: the head is due (tokio never fires early).
            }
            match &mut head.item {
                Item::Data(bytes) => match Pin::new(&mut *dst).poll_write(cx, bytes) {
                    Poll::Ready(Ok(0)) => {
                        return Err(Outcome::DstError);
                    }
                    Poll::Ready(Ok(n)) => {
                        bytes.advance(n);
                        let done = bytes.is_empty();
                        self.delivered(n, done);
                        if done {
                            self.queue.pop_front();
                        }
                        progressed = true;
                    }
                    Poll::Ready(Err(_)) => return Err(Outcome::DstError),
                    Poll::Pending => break,
                },
                Item::End(End::Fin) => match Pin::new(&mut *dst).poll_shutdown(cx) {
                    Poll::Ready(_) => {
                        self.queue.pop_front();
                        return Err(Outcome::Ended(End::Fin));
                    }
                    Poll::Pending => break,
                },
                Item::End(end) => {
                    let end = *end;
                    self.queue.pop_front();
                    return Err(Outcome::Ended(end));
                }
            }
        }
        Ok(progressed)
    }

    /// Reads what `src` has, if the queue has room; `Ok(true)` if bytes came.
    fn read<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        src: &mut R,
        dst: &mut W,
    ) -> Result<bool, Outcome>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        if !self.reading || self.queued >= self.shape.bound {
            return Ok(false);
        }
        let room = (self.shape.bound - self.queued).min(READ_CHUNK);
        // Uninitialized, so that a read does not pay for clearing 16 KiB first.
        let mut buf = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
        let mut rb = ReadBuf::uninit(&mut buf[..room]);
        match Pin::new(src).poll_read(cx, &mut rb) {
            Poll::Pending => Ok(false),
            Poll::Ready(Err(_)) => {
                self.reading = false;
                Err(Outcome::SrcError)
            }
            Poll::Ready(Ok(())) if rb.filled().is_empty() => {
                self.reading = false;
                Err(Outcome::SrcEof)
            }
            Poll::Ready(Ok(())) => {
                self.enqueue(cx, rb.filled(), dst);
                Ok(true)
            }
        }
    }

    /// Puts `data` in the delay line (or straight into `dst` when the link shapes nothing
    /// and nothing waits ahead of it).
    fn enqueue<W: AsyncWrite + Unpin>(
        &mut self,
        cx: &mut Context<'_>,
        mut data: &[u8],
        dst: &mut W,
    ) {
        if self.shape.transparent() && self.queue.is_empty() {
            // An error or a short write leaves the rest to the queue, whose next write
            // reports the error.
            if let Poll::Ready(Ok(n)) = Pin::new(&mut *dst).poll_write(cx, data) {
                self.counters.bytes.fetch_add(n as u64, Relaxed);
                self.counters.segments.fetch_add(1, Relaxed);
                data = &data[n..];
            }
            if data.is_empty() {
                return;
            }
        }
        let now = Instant::now();
        for chunk in data.chunks(self.segment) {
            let departs = match self.shape.rate {
                Some(rate) => {
                    self.tx_free = now.max(self.tx_free) + rate.time_for(chunk.len());
                    self.tx_free
                }
                None => now,
            };
            let due = (departs + self.shape.delay + self.jitter()).max(self.last_due);
            self.last_due = due;
            self.queue.push_back(Segment {
                due,
                item: Item::Data(Bytes::copy_from_slice(chunk)),
            });
        }
        self.queued += data.len();
        self.counters.queued.fetch_add(data.len() as u64, Relaxed);
        self.counters
            .queued_max
            .fetch_max(self.queued as u64, Relaxed);
    }

    fn jitter(&self) -> Duration {
        if self.shape.jitter.is_zero() {
            return Duration::ZERO;
        }
        let max = self.shape.jitter.as_micros() as u64;
        Duration::from_micros(rand::random_range(0..=max))
    }

    /// `n` bytes reached the destination (`whole`: the segment is finished).
    fn delivered(&mut self, n: usize, whole: bool) {
        self.counters.bytes.fetch_add(n as u64, Relaxed);
        if whole {
            self.counters.segments.fetch_add(1, Relaxed);
        }
        self.unqueue(n);
    }

    fn unqueue(&mut self, n: usize) {
        self.queued -= n;
        self.counters.queued.fetch_sub(n as u64, Relaxed);
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        self.counters.queued.fetch_sub(self.queued as u64, Relaxed);
    }
}
