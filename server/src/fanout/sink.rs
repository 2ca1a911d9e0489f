//! One subscriber's socket as the fan-out sees it: who may write to it now (the fan-out while
//! the subscriber is caught up, its own task otherwise), how far it got, and what a write
//! that would have blocked left over. Every write to the socket while it is the fan-out's,
//! the subscriber's heartbeats included, is made under the sink's lock, so two writers never
//! interleave, and the task takes the socket back (with the rest of a half-written batch and
//! the seq it stands at) in one step.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::metrics::{Metrics, Technique};

/// The connection a sink writes to, as the fan-out counts it (`counting::ConnCell`).
pub trait Conn: Send + Sync + std::fmt::Debug {
    /// The subscription was handed messages up to `seq` (the stall watch's progress).
    fn delivered(&self, seq: u64);
    /// `n` bytes were written to the connection.
    fn wrote(&self, n: u64);
    /// The server's counters.
    fn metrics(&self) -> &Metrics;
}

/// How a response's bytes are framed on the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// HTTP/1.1 `Transfer-Encoding: chunked`.
    Chunked,
    /// HTTP/1.0: the body runs until the connection closes.
    UntilClose,
}

/// Who writes to the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The fan-out (the task only writes heartbeats, under the lock).
    Direct,
    /// The subscriber's task: a write would have blocked, or it is catching up.
    Task,
    /// The response ended: nobody.
    Closed,
}

#[derive(Debug)]
struct Inner {
    mode: Mode,
    /// The last seq handed to the socket (written, or left in `pending`).
    cursor: u64,
    /// What a write that would have blocked left over, for the task to write.
    pending: Option<Bytes>,
    /// The socket failed under the fan-out.
    failed: bool,
    /// Bumped each time the task hands the socket to the fan-out, so a fan-out that still
    /// lists an earlier hand-over never writes to it twice.
    epoch: u64,
    /// The socket while the response lasts (dropped when it ends, so a fan-out that has not
    /// noticed yet does not hold the descriptor open).
    socket: Option<Arc<TcpStream>>,
}

/// What the task gets back from the fan-out.
#[derive(Debug)]
pub struct TakenBack {
    /// Bytes to write first.
    pub pending: Option<Bytes>,
    /// The seq the subscriber stands at once they are written.
    pub cursor: u64,
    /// The socket failed: end the response as failed.
    pub failed: bool,
}

/// What an offer of messages to the sink came to.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Offered {
    /// Bytes written to the socket.
    pub bytes: usize,
    /// Messages handed over (written, or left for the task).
    pub messages: usize,
    /// The sink is still the fan-out's (else: drop it from the list).
    pub kept: bool,
}

/// How a write under the lock went.
#[derive(Debug, PartialEq, Eq)]
enum Wrote {
    /// Whole.
    All(usize),
    /// Part (the rest left for the task, which now holds the socket).
    Part(usize),
}

/// One subscriber's socket, shared by its task and a topic's fan-out.
#[derive(Debug)]
pub struct Sink {
    inner: Mutex<Inner>,
    /// Something was written since the last heartbeat tick.
    sent: AtomicBool,
    /// Wakes the task when the socket is handed back to it.
    back: Notify,
    conn: Arc<dyn Conn>,
    technique: Technique,
    framing: Framing,
}

impl Sink {
    /// The sink of a `technique` response framed as `framing` on `socket`, held by its task.
    pub fn new(
        socket: Arc<TcpStream>,
        conn: Arc<dyn Conn>,
        technique: Technique,
        framing: Framing,
    ) -> Arc<Sink> {
        Arc::new(Sink {
            inner: Mutex::new(Inner {
                mode: Mode::Task,
                cursor: 0,
                pending: None,
                failed: false,
                epoch: 0,
                socket: Some(socket),
            }),
            sent: AtomicBool::new(false),
            back: Notify::new(),
            conn,
            technique,
            framing,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The technique of the response.
    pub fn technique(&self) -> Technique {
        self.technique
    }

    /// How the response is framed.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// The task hands the socket to the fan-out, caught up to `cursor`; returns the epoch the
    /// fan-out must present.
    pub fn arm(&self, cursor: u64) -> u64 {
        let mut g = self.lock();
        g.mode = Mode::Direct;
        g.cursor = cursor;
        g.pending = None;
        g.failed = false;
        g.epoch += 1;
        g.epoch
    }

    /// The fan-out adopts the sink armed at `epoch` when it stands at `at`: true when it is
    /// still the fan-out's and has every message up to `at`; otherwise it is handed back (it
    /// missed some: its task catches up from the topic's retention).
    pub fn adopt(&self, epoch: u64, at: u64) -> bool {
        let mut g = self.lock();
        if g.mode != Mode::Direct || g.epoch != epoch {
            return false;
        }
        if g.cursor < at {
            self.hand_back(&mut g, None, false);
            return false;
        }
        true
    }

    /// Writes the messages after the sink's cursor up to `last`, framed by `bytes_after`
    /// (given the cursor; `None` when the batch does not reach back that far), if the sink is
    /// the fan-out's at `epoch`. A write that would block leaves the rest with the task.
    pub fn offer(
        &self,
        epoch: u64,
        last: u64,
        bytes_after: impl FnOnce(u64) -> Option<(Bytes, usize)>,
    ) -> Offered {
        let mut g = self.lock();
        if g.mode != Mode::Direct || g.epoch != epoch {
            return Offered::default();
        }
        if g.cursor >= last {
            return Offered {
                kept: true,
                ..Offered::default()
            };
        }
        let Some((bytes, messages)) = bytes_after(g.cursor) else {
            // It missed messages this batch does not hold: its task catches up.
            self.hand_back(&mut g, None, false);
            return Offered::default();
        };
        self.sent.store(true, Relaxed);
        let wrote = self.write_locked(&mut g, bytes);
        g.cursor = last;
        self.conn.delivered(last);
        match wrote {
            Wrote::All(bytes) => Offered {
                bytes,
                messages,
                kept: true,
            },
            Wrote::Part(bytes) => Offered {
                bytes,
                messages,
                kept: false,
            },
        }
    }

    /// The task writes `bytes` (a heartbeat) if the socket is the fan-out's: true when it is
    /// (written, or left for the task to write after a take-back), false when the task holds
    /// the socket.
    pub fn write_own(&self, bytes: Bytes) -> bool {
        let mut g = self.lock();
        if g.mode != Mode::Direct {
            return false;
        }
        let (Wrote::All(n) | Wrote::Part(n)) = self.write_locked(&mut g, bytes);
        self.conn.wrote(n as u64);
        true
    }

    fn write_locked(&self, g: &mut Inner, bytes: Bytes) -> Wrote {
        let Some(socket) = g.socket.as_ref() else {
            return Wrote::Part(0);
        };
        match socket.try_write(&bytes) {
            Ok(n) if n == bytes.len() => Wrote::All(n),
            Ok(n) => {
                self.blocked();
                self.hand_back(g, Some(bytes.slice(n..)), false);
                Wrote::Part(n)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.blocked();
                self.hand_back(g, Some(bytes), false);
                Wrote::Part(0)
            }
            Err(_) => {
                self.hand_back(g, None, true);
                Wrote::Part(0)
            }
        }
    }

    /// Counts a socket handed back because a write would have blocked.
    fn blocked(&self) {
        self.conn
            .metrics()
            .of(self.technique)
            .handed_back
            .fetch_add(1, Relaxed);
    }

    /// Gives the socket to the task. Only a sink the fan-out holds is handed back (every
    /// caller checked `Mode::Direct`), so nothing is left over from an earlier hand-back
    /// (`arm` cleared it).
    fn hand_back(&self, g: &mut Inner, pending: Option<Bytes>, failed: bool) {
        g.mode = Mode::Task;
        g.pending = pending;
        g.failed = failed;
        self.back.notify_one();
    }

    /// The fan-out gives the socket back to the task (it fell behind, or stops).
    pub fn give_back(&self, epoch: u64) {
        let mut g = self.lock();
        if g.mode == Mode::Direct && g.epoch == epoch {
            self.hand_back(&mut g, None, false);
        }
    }

    /// Waits until the fan-out hands the socket back (at once if it has already).
    pub async fn handed_back(&self) {
        loop {
            if self.lock().mode != Mode::Direct {
                return;
            }
            self.back.notified().await;
        }
    }

    /// The task takes the socket back: what the fan-out left and where it stands.
    pub fn take_back(&self) -> TakenBack {
        let mut g = self.lock();
        if g.mode == Mode::Direct {
            g.mode = Mode::Task;
        }
        TakenBack {
            pending: g.pending.take(),
            cursor: g.cursor,
            failed: std::mem::take(&mut g.failed),
        }
    }

    /// Whether something was written since the last call (the heartbeat tick's question).
    pub fn take_sent(&self) -> bool {
        self.sent.swap(false, Relaxed)
    }

    /// The response ended: nobody writes to the socket any more.
    pub fn close(&self) {
        let mut g = self.lock();
        g.mode = Mode::Closed;
        g.pending = None;
        g.socket = None;
    }

    /// The connection's counters.
    pub fn conn(&self) -> &dyn Conn {
        &*self.conn
    }

    /// Whether the fan-out still holds the sink armed at `epoch`.
    pub fn is_armed(&self, epoch: u64) -> bool {
        let g = self.lock();
        g.mode == Mode::Direct && g.epoch == epoch
    }
}
