//! A live subscription to a topic, shared by the stream, SSE and WebSocket techniques: replay
//! of retained messages after the cursor, then live messages from the topic's broadcast, plus
//! heartbeats from the server's one shared ticker (no per-connection timers) and the shutdown
//! signal. Also the stall watch that disconnects a reader which stopped reading its socket.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, watch};

use crate::counting::ConnCell;
use crate::hub::TopicHandle;
use crate::lazy::Lazy;
use crate::message::{Gap, Message};
use crate::metrics::Technique;
use crate::state::{Signal, State};

/// What a subscription yields next.
#[derive(Debug)]
pub enum Event {
    /// A message to send.
    Message(Arc<Message>),
    /// A heartbeat interval passed with nothing else sent.
    Heartbeat,
    /// The subscriber fell more than `--subscriber-queue` behind: disconnect it (counted).
    Slow,
    /// The server is shutting down: end the response cleanly.
    Shutdown,
}

/// One subscriber's state: small, and no copy of any message.
#[derive(Debug)]
pub struct Subscription {
    /// `None` while the topic's direct fan-out writes to the socket (`park`).
    rx: Option<broadcast::Receiver<Arc<Message>>>,
    replay: std::vec::IntoIter<Arc<Message>>,
    last: u64,
    /// The next heartbeat tick or shutdown, polled only when it fired.
    signal: Changed,
    sent_since_tick: bool,
    /// A live message (not a replayed one) was delivered.
    live: bool,
    cell: Arc<ConnCell>,
    technique: Technique,
    /// Keeps the topic in the hub while subscribed (an empty topic goes with its last user).
    topic: TopicHandle,
}

impl Subscription {
    /// Subscribes `cell`'s connection to `topic` from cursor `since`; returns the subscription
    /// and the gap to announce first, if any. Counts a resume when `since > 0`.
    pub fn new(
        state: &State,
        cell: Arc<ConnCell>,
        topic: TopicHandle,
        since: u64,
        technique: Technique,
    ) -> (Subscription, Option<Gap>) {
        if since > 0 {
            cell.metrics().of(technique).resumes.fetch_add(1, Relaxed);
        }
        let mut sub = Subscription {
            rx: None,
            replay: Vec::new().into_iter(),
            last: since,
            signal: changed(state.signals.subscribe()),
            sent_since_tick: false,
            live: false,
            cell,
            technique,
            topic,
        };
        let gap = sub.start(since);
        sub.cell.watch(sub.topic.shared(), sub.last);
        sub.cell.subscribed();
        (sub, gap)
    }

    /// Receives from `since` on: what the topic retains after it is replayed first, then
    /// live messages (the receiver and the snapshot taken together); returns the gap to
    /// announce if some of it is gone (counted).
    fn start(&mut self, since: u64) -> Option<Gap> {
        let (rx, snap) = self.topic.subscribe(since);
        if snap.gap.is_some() {
            self.cell
                .metrics()
                .of(self.technique)
                .gaps
                .fetch_add(1, Relaxed);
        }
        // Live messages are exactly those after the snapshot; replayed ones are below it.
        self.last = snap
            .messages
            .first()
            .map(|m| m.seq - 1)
            .unwrap_or(snap.latest);
        self.rx = Some(rx);
        self.replay = snap.messages.into_iter();
        snap.gap
    }

    fn deliver(&mut self, m: Arc<Message>) -> Event {
        self.last = m.seq;
        self.sent_since_tick = true;
        self.cell.delivered(m.seq);
        self.cell
            .metrics()
            .of(self.technique)
            .delivered
            .fetch_add(1, Relaxed);
        Event::Message(m)
    }

    /// Waits for the next thing to send. While parked, only heartbeats and shutdown come.
    pub async fn next(&mut self) -> Event {
        if let Some(m) = self.replay.next() {
            return self.deliver(m);
        }
        // Free the replay buffer once it is used up (an empty Vec does not allocate).
        self.replay = Vec::new().into_iter();
        loop {
            tokio::select! {
                biased;
                r = recv(self.rx.as_mut()) => match self.received(r) {
                    Some(ev) => return ev,
                    None => continue,
                },
                (signals, ok) = &mut self.signal => {
                    let shutdown = !ok || signals.borrow().shutdown;
                    self.signal = changed(signals);
                    if shutdown {
                        return Event::Shutdown;
                    }
                    if self.take_sent() {
                        continue;
                    }
                    return Event::Heartbeat;
                }
            }
        }
    }

    /// The next message if one is ready now (never a heartbeat: those come from `next`).
    pub fn try_next(&mut self) -> Option<Event> {
        if let Some(m) = self.replay.next() {
            return Some(self.deliver(m));
        }
        loop {
            let r = match self.rx.as_mut()?.try_recv() {
                Ok(m) => Ok(m),
                Err(TryRecvError::Empty) => return None,
                Err(TryRecvError::Lagged(n)) => Err(RecvError::Lagged(n)),
                Err(TryRecvError::Closed) => Err(RecvError::Closed),
            };
            if let Some(ev) = self.received(r) {
                return Some(ev);
            }
        }
    }

    /// What a live message received (or the receiver's error) means; `None`: one this
    /// subscriber had already (replayed before it came live), skip it.
    fn received(&mut self, r: Result<Arc<Message>, RecvError>) -> Option<Event> {
        match r {
            Ok(m) if m.seq <= self.last => None,
            Ok(m) => {
                self.live = true;
                Some(self.deliver(m))
            }
            Err(RecvError::Lagged(_)) => {
                self.cell.mark_slow();
                Some(Event::Slow)
            }
            Err(RecvError::Closed) => Some(Event::Shutdown),
        }
    }

    /// Notes that something other than a message (e.g. the retry hint) was sent.
    pub fn note_sent(&mut self) {
        self.sent_since_tick = true;
    }

    /// Whether anything was sent since the last tick (and forgets it).
    pub fn take_sent(&mut self) -> bool {
        std::mem::take(&mut self.sent_since_tick)
    }

    /// The seq of the last message handed out.
    pub fn last(&self) -> u64 {
        self.last
    }

    /// Whether the topic is busy enough for its direct fan-out to take this subscriber's
    /// socket: a live message came (an idle topic never starts a pump) and the topic has at
    /// least `min` users (0: never).
    pub fn wants_fanout(&self, min: u64) -> bool {
        min > 0 && self.live && self.replay.len() == 0 && self.topic.users() as u64 >= min
    }

    /// The topic, for its fan-out.
    pub fn topic(&self) -> &TopicHandle {
        &self.topic
    }

    /// Stops receiving: the fan-out now writes this subscriber's messages.
    pub fn park(&mut self) {
        self.rx = None;
    }

    /// Receives again from `cursor` (where the fan-out left it): what the topic retains after
    /// it is replayed first; returns the gap to announce if some of it is gone.
    pub fn resume(&mut self, cursor: u64) -> Option<Gap> {
        self.start(cursor)
    }
}

/// The next message of `rx`, or never while parked.
async fn recv(
    rx: Option<&mut broadcast::Receiver<Arc<Message>>>,
) -> Result<Arc<Message>, RecvError> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.cell.unsubscribed();
    }
}

/// A watch of the server's signals that resolves at their next change (`false`: the server
/// is gone), handing the receiver back.
pub type Changed = Lazy<Pin<Box<dyn Future<Output = (watch::Receiver<Signal>, bool)> + Send>>>;

/// Built once per tick, not once per message: a `changed()` future made and dropped with each
/// message took the watch channel's list lock, which every connection shares, twice a
/// delivery; and [`Lazy`] polls it only when it fired.
pub fn changed(mut signals: watch::Receiver<Signal>) -> Changed {
    Lazy::new(Box::pin(async move {
        let ok = signals.changed().await.is_ok();
        (signals, ok)
    }))
}

/// Resolves when the subscription on `cell` has been more than `queue` messages behind for two
/// heartbeat ticks in a row without progress (a reader that stopped reading its socket, whose
/// writer is therefore blocked and cannot notice `Lagged` itself); on HTTP/2, when a connection
/// with subscriptions wrote nothing for two ticks (see `ConnCell::stalled`). Never resolves
/// otherwise.
///
/// Polled only when a tick woke it ([`Lazy`]): the connection's task wakes for every message,
/// and polling a waiting watch takes the lock of a list every connection shares.
pub fn stall_watch(cell: &ConnCell, signals: watch::Receiver<Signal>, queue: u64) -> Stall<'_> {
    Lazy::new(Box::pin(watch_stall(cell, signals, queue)))
}

/// The future of [`stall_watch`].
pub type Stall<'a> = Lazy<Pin<Box<dyn Future<Output = ()> + Send + 'a>>>;

async fn watch_stall(cell: &ConnCell, mut signals: watch::Receiver<Signal>, queue: u64) {
    let mut prev = u64::MAX;
    let mut quiet = 0;
    loop {
        if signals.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
        if cell.stalled(queue, prev) {
            quiet += 1;
            if quiet >= cell.stall_ticks() {
                return;
            }
        } else {
            quiet = 0;
        }
        prev = cell.progress();
    }
}

/// A streaming response body fed by `sub`: `prefix` first, then each message and heartbeat as
/// the subscription's technique carries them ([`Message::streamed`]). Ends cleanly on
/// shutdown; ends with an error (hyper then drops the connection) when the subscriber is too
/// slow.
pub fn http_body(sub: Subscription, prefix: Option<bytes::Bytes>) -> crate::response::BoxBody {
    use http_body_util::BodyExt;
    use hyper::body::Frame;
    let heartbeat = crate::message::heartbeat(sub.technique);
    let frames = futures_util::stream::unfold(
        (sub, prefix, false),
        move |(mut sub, prefix, done)| async move {
            if done {
                return None;
            }
            if let Some(p) = prefix {
                sub.note_sent();
                return Some((Ok(Frame::data(p)), (sub, None, false)));
            }
            match sub.next().await {
                Event::Message(m) => {
                    let data = m.streamed(sub.technique);
                    Some((Ok(Frame::data(data)), (sub, None, false)))
                }
                Event::Heartbeat => Some((
                    Ok(Frame::data(bytes::Bytes::from_static(heartbeat))),
                    (sub, None, false),
                )),
                Event::Slow => Some((
                    Err(std::io::Error::other("subscriber fell behind")),
                    (sub, None, true),
                )),
                Event::Shutdown => None,
            }
        },
    );
    http_body_util::StreamBody::new(frames).boxed_unsync()
}
