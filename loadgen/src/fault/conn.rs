//! One connection's faults, applied by the counting socket ([`crate::net::CountingStream`])
//! before each read and write: the injected reset (`drop`), the intermediary's idle cut
//! (`idle-cut`) and the stalled reader (`stall-reader`). Timers are registered with the task
//! that polls the socket, so a cut or an idle close happens while the client waits for a
//! message, as a real one would.
//!
//! A reset shows as a `ConnectionReset` error carrying [`Injected::Cut`], an idle cut as the
//! end of the stream (and `BrokenPipe` on write) carrying [`Injected::IdleCut`]: the clients
//! tell injected faults from the server's errors with [`injected`].

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use tokio::time::Sleep;

use crate::payload;
use crate::stats::Recorder;

/// Which injected fault ended a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Injected {
    #[error("connection reset by the fault injector (--fault drop)")]
    Cut,
    #[error("connection closed by the intermediary after carrying no byte (--fault idle-cut)")]
    IdleCut,
}

/// The injected fault behind `e`, if it is one.
pub fn injected(e: &io::Error) -> Option<Injected> {
    e.get_ref()?.downcast_ref::<Injected>().copied()
}

#[derive(Debug)]
struct Idle {
    limit: Duration,
    last: Instant,
    timer: Pin<Box<Sleep>>,
}

/// What one connection goes through.
#[derive(Debug)]
pub struct ConnFaults {
    cut: Option<Pin<Box<Sleep>>>,
    idle: Option<Idle>,
    stall: Option<(Instant, Pin<Box<Sleep>>)>,
    /// Set once a fault ended the connection.
    ended: Option<Injected>,
    cut_us: Arc<AtomicU64>,
}

impl ConnFaults {
    pub(super) fn new(
        cut_at: Option<Instant>,
        idle: Option<Duration>,
        stall: Option<(Instant, Instant)>,
        cut_us: Arc<AtomicU64>,
    ) -> ConnFaults {
        let now = Instant::now();
        let sleep = |at: Instant| Box::pin(tokio::time::sleep_until(at));
        ConnFaults {
            cut: cut_at.map(sleep),
            idle: idle.map(|limit| Idle {
                limit,
                last: now,
                timer: sleep(now + limit),
            }),
            stall: stall
                .filter(|&(_, until)| until > now)
                .map(|(from, until)| (from, sleep(until))),
            ended: None,
            cut_us,
        }
    }

    /// Bytes moved: the connection is not idle.
    pub fn activity(&mut self) {
        if let Some(i) = &mut self.idle {
            i.last = Instant::now();
        }
    }

    /// Checks the timers; the fault that ends the connection now, if one does.
    fn check(&mut self, cx: &mut Context<'_>, rec: &Recorder) -> Option<Injected> {
        if self.ended.is_some() {
            return self.ended;
        }
        if let Some(cut) = &mut self.cut
            && cut.as_mut().poll(cx).is_ready()
        {
            rec.counters.cuts.fetch_add(1, Relaxed);
            return self.end(Injected::Cut);
        }
        if let Some(i) = &mut self.idle {
            while i.timer.as_mut().poll(cx).is_ready() {
                let deadline = i.last + i.limit;
                if Instant::now() >= deadline {
                    rec.counters.idle_cuts.fetch_add(1, Relaxed);
                    return self.end(Injected::IdleCut);
                }
                i.timer.as_mut().reset(deadline);
            }
        }
        None
    }

    fn end(&mut self, why: Injected) -> Option<Injected> {
        self.ended = Some(why);
        let _ = self
            .cut_us
            .compare_exchange(0, payload::now_us().max(1), Relaxed, Relaxed);
        self.ended
    }

    /// Before a read: `Some` to answer the read with (an error, the end of the stream, or
    /// pending while the reader stalls); `None` to read.
    pub fn before_read(
        &mut self,
        cx: &mut Context<'_>,
        rec: &Recorder,
    ) -> Option<Poll<io::Result<()>>> {
        match self.check(cx, rec) {
            Some(Injected::Cut) => {
                return Some(Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    Injected::Cut,
                ))));
            }
            // The intermediary closed: the client reads the end of the stream.
            Some(Injected::IdleCut) => return Some(Poll::Ready(Ok(()))),
            None => {}
        }
        if let Some((from, until)) = &mut self.stall {
            if Instant::now() >= *from {
                if until.as_mut().poll(cx).is_pending() {
                    return Some(Poll::Pending);
                }
                self.stall = None;
            }
        }
        None
    }

    /// Before a write: `Some(error)` when a fault ended the connection.
    pub fn before_write(&mut self, cx: &mut Context<'_>, rec: &Recorder) -> Option<io::Error> {
        self.check(cx, rec).map(|why| match why {
            Injected::Cut => io::Error::new(io::ErrorKind::ConnectionReset, why),
            Injected::IdleCut => io::Error::new(io::ErrorKind::BrokenPipe, why),
        })
    }

    /// Whether a fault ended the connection (reads give the end of the stream after an idle
    /// cut; the caller must then say it read nothing).
    pub fn ended(&self) -> Option<Injected> {
        self.ended
    }
}
