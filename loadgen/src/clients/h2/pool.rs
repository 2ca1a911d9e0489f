//! The HTTP/2 connections of one group of clients ([`H2Pool`]): client `index` uses slot
//! `index / K` (K = `--streams-per-connection`), so K logical clients share one TCP
//! connection, as the tabs of one origin share a browser's.
//!
//! A slot holds the connection's [`SendRequest`]; the connection itself is driven by a
//! spawned task, which marks the slot's connection dead when it ends (GOAWAY, reset, end of
//! stream). The first client of a slot to need a connection opens it under the slot's lock;
//! the others wait on the lock and then share it. A dead connection fails every stream on it;
//! the next client to need the slot opens a new one, and that is one reconnect, counted once
//! per connection (not once per client that saw it die). A connection lives until its
//! connection dies or the pool is dropped (with the group's [`super::super::Transport`]) and
//! its last stream ends; or, sooner, when the last client of its slot ends ([`Lease`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bytes::Bytes;
use h2::client::SendRequest;

use super::from_h2;
use super::linger::Lingering;
use crate::clients::{Client, ClientError};
use crate::config::HttpVersion;

/// Flow-control window of one stream: room for a burst of messages before the client's
/// reads release it.
pub const STREAM_WINDOW: u32 = 1 << 20;
/// Flow-control window of a connection: shared by its streams, so large enough that many
/// streams' bursts do not wait for each other.
pub const CONNECTION_WINDOW: u32 = 16 << 20;

/// The HTTP/2 connections one group of clients shares.
#[derive(Debug)]
pub struct H2Pool {
    /// Logical clients per connection.
    per_connection: u32,
    /// The slots opened so far, by number.
    slots: std::sync::Mutex<HashMap<u32, Arc<Slot>>>,
    /// Connection drivers still running, and a wake-up when one ends ([`H2Pool::drained`]).
    drivers: Arc<(AtomicUsize, tokio::sync::Notify)>,
}

/// One connection place: its live connection, if any, behind a lock its clients wait on.
#[derive(Debug, Default)]
struct Slot {
    state: tokio::sync::Mutex<SlotState>,
    /// Clients of the slot running now ([`Lease`]).
    users: AtomicUsize,
}

#[derive(Debug, Default)]
struct SlotState {
    live: Option<Live>,
    /// Connections this slot has opened (a reconnect is any after the first).
    opened: u64,
}

/// An open connection: where to send requests, and whether its driver has ended.
#[derive(Debug)]
struct Live {
    send: SendRequest<Bytes>,
    dead: Arc<AtomicBool>,
}

/// What a client gets from the pool: where to send its request, and whether it opened the
/// connection for it (its connect time then counts from the connect).
#[derive(Debug)]
pub struct Checkout {
    pub send: SendRequest<Bytes>,
    pub opened: bool,
    /// Set to retire the connection: it takes no new stream (a GOAWAY came), so the next
    /// client of the slot opens another while this one drains.
    dead: Arc<AtomicBool>,
}

impl Checkout {
    /// The connection refused a new stream: the slot's next client opens a new one.
    pub fn retire(&self) {
        self.dead.store(true, Ordering::Release);
    }
}

impl H2Pool {
    pub fn new(per_connection: u32) -> H2Pool {
        H2Pool {
            per_connection: per_connection.max(1),
            slots: std::sync::Mutex::new(HashMap::new()),
            drivers: Arc::default(),
        }
    }

    /// Waits until every connection's driver has ended (its last frames written and counted)
    /// or `deadline` passes: a group's last byte counts must include the frames its
    /// connections send as they close (RST_STREAM, GOAWAY, a TLS close_notify), written by
    /// the drivers after the clients themselves have ended.
    pub async fn drained(&self, deadline: tokio::time::Instant) {
        loop {
            let (running, ended) = &*self.drivers;
            let notified = ended.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if running.load(Ordering::Acquire) == 0 {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }

    /// Logical clients per connection.
    pub fn per_connection(&self) -> u32 {
        self.per_connection
    }

    /// The slot of client `index`.
    pub fn slot_of(&self, index: u32) -> u32 {
        index / self.per_connection
    }

    /// Connections open now (whose driver has not ended).
    pub fn live(&self) -> usize {
        let slots: Vec<Arc<Slot>> = match self.slots.lock() {
            Ok(m) => m.values().cloned().collect(),
            Err(_) => return 0,
        };
        slots
            .iter()
            .filter(|s| {
                s.state.try_lock().is_ok_and(|st| {
                    st.live
                        .as_ref()
                        .is_some_and(|l| !l.dead.load(Ordering::Acquire))
                })
            })
            .count()
    }

    /// Client `index` runs: its slot's connection may stay open until the lease and every
    /// other of the slot are dropped.
    pub fn lease(&self, index: u32) -> Option<Lease> {
        let slot = self.slot(self.slot_of(index)).ok()?;
        slot.users.fetch_add(1, Ordering::AcqRel);
        Some(Lease { slot })
    }

    fn slot(&self, n: u32) -> Result<Arc<Slot>, ClientError> {
        let mut m = self
            .slots
            .lock()
            .map_err(|_| ClientError::Protocol("the HTTP/2 pool's lock was poisoned".into()))?;
        Ok(Arc::clone(m.entry(n).or_default()))
    }

    /// The connection of client `c`'s slot, opened by `c` if the slot has none (or its
    /// connection died). Clients of the slot wait for whichever of them is opening it.
    pub(in crate::clients) async fn checkout(
        &self,
        c: &mut Client,
    ) -> Result<Checkout, ClientError> {
        let slot = self.slot(self.slot_of(c.spec.index))?;
        let mut st = slot.state.lock().await;
        if let Some(l) = &st.live
            && !l.dead.load(Ordering::Acquire)
        {
            return Ok(Checkout {
                send: l.send.clone(),
                opened: false,
                dead: Arc::clone(&l.dead),
            });
        }
        st.live = None;
        let reconnect = st.opened > 0;
        let connected_before = c.opened;
        let opened = c.open_shared(HttpVersion::H2, reconnect).await;
        if c.opened > connected_before {
            // Connected (even if TLS then failed): the next one is a reconnect, as over
            // HTTP/1.1.
            st.opened += 1;
        }
        let (wire, _) = opened?;
        let handshake = h2::client::Builder::new()
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .enable_push(false)
            .handshake::<_, Bytes>(Lingering::new(wire));
        let (send, conn) = match tokio::time::timeout(c.spec.connect_timeout, handshake).await {
            Ok(r) => r.map_err(from_h2)?,
            Err(_) => return Err(ClientError::Timeout("the HTTP/2 handshake")),
        };
        let dead = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&dead);
        let drivers = Arc::clone(&self.drivers);
        drivers.0.fetch_add(1, Ordering::AcqRel);
        tokio::spawn(async move {
            // Its end (or error) reaches every stream on it; here it only marks the slot.
            let _ = conn.await;
            flag.store(true, Ordering::Release);
            drivers.0.fetch_sub(1, Ordering::AcqRel);
            drivers.1.notify_waiters();
        });
        st.live = Some(Live {
            send: send.clone(),
            dead: Arc::clone(&dead),
        });
        Ok(Checkout {
            send,
            opened: true,
            dead,
        })
    }
}

/// A running client's hold on its slot ([`H2Pool::lease`]). When the last client of a slot
/// ends, the pool lets go of the slot's connection, which then closes as soon as its streams
/// have ended (as an HTTP/1.1 client's socket closes when the client ends).
#[derive(Debug)]
pub struct Lease {
    slot: Arc<Slot>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.slot.users.fetch_sub(1, Ordering::AcqRel) == 1 {
            // Nobody can hold the lock: only a running client (a lease holder) takes it.
            if let Ok(mut st) = self.slot.state.try_lock() {
                st.live = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_clients_share_a_slot() {
        let p = H2Pool::new(10);
        assert_eq!((p.slot_of(0), p.slot_of(9), p.slot_of(10)), (0, 0, 1));
        assert_eq!(p.slot_of(99), 9);
        let one = H2Pool::new(0);
        assert_eq!((one.per_connection(), one.slot_of(7)), (1, 7));
        assert_eq!(p.live(), 0);
    }
}
