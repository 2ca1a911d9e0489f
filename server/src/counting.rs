//! Byte counting at the socket. Every accepted `TcpStream` is wrapped in a [`CountingStream`]
//! whose reads and writes are added to the counters of the technique being served on that
//! connection, tracked by its [`ConnCell`]: bytes read before a request is routed (its head)
//! are held back and go to that request's technique; bytes written after a response's body
//! ended go to the technique of that response. After a WebSocket upgrade everything is `ws`.
//! The cell also moves the connection between the per-technique `connections` gauges and
//! carries what the slow-reader check needs (the topic and the last seq handed to the socket).
//!
//! An HTTP/2 connection carries many requests at once: all its bytes (TLS records included,
//! when it is TLS) go to the technique of its first routed request, and it stays in that
//! technique's gauge (load generator clients use one technique per connection). Its
//! subscriptions may be on several topics, so its stall check is not one subscription's
//! progress but the connection's: bytes written (`ConnCell::stalled`); a stream that falls
//! behind while its connection is fine ends alone (`RST_STREAM`), see docs/PROTOCOL.md.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::hub::Topic;
use crate::metrics::{Metrics, Protocol, Technique};

const UNROUTED: u8 = u8::MAX;

/// Per-connection accounting state, shared by the stream wrapper and the request handlers.
#[derive(Debug)]
pub struct ConnCell {
    metrics: Arc<Metrics>,
    current: AtomicU8,
    last: AtomicU8,
    sticky: AtomicBool,
    /// Before the first request is routed: bytes read, held for its technique. HTTP/2, after
    /// it (when reads go straight to the technique): the live subscriptions.
    pending_read: AtomicU64,
    sub: Mutex<Option<Arc<Topic>>>,
    /// HTTP/1.1: the last seq its subscription handed to the socket. While writes are held
    /// ([`ConnCell::hold_writes`]): the bytes written, held. HTTP/2: the bytes written (its
    /// stall and idle checks' progress). One field for the three keeps an idle HTTP/1.1
    /// connection's cell the size it was before HTTP/2.
    delivered: AtomicU64,
    slow: AtomicBool,
    protocol: AtomicU8,
    holding: AtomicBool,
}

impl ConnCell {
    /// A new connection, counted in the `other` gauge until its first request is routed.
    pub fn new(metrics: Arc<Metrics>) -> Arc<ConnCell> {
        metrics
            .of(Technique::Other)
            .connections
            .fetch_add(1, Relaxed);
        metrics.open_connections.fetch_add(1, Relaxed);
        Arc::new(ConnCell {
            metrics,
            current: AtomicU8::new(UNROUTED),
            last: AtomicU8::new(Technique::Other as u8),
            sticky: AtomicBool::new(false),
            pending_read: AtomicU64::new(0),
            sub: Mutex::new(None),
            delivered: AtomicU64::new(0),
            slow: AtomicBool::new(false),
            protocol: AtomicU8::new(UNROUTED),
            holding: AtomicBool::new(false),
        })
    }

    /// The server's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The connection speaks `p` (counted once: later calls change nothing).
    pub fn set_protocol(&self, p: Protocol) {
        if self
            .protocol
            .compare_exchange(UNROUTED, p as u8, Relaxed, Relaxed)
            .is_ok()
        {
            let g = self.metrics.protocol(p);
            g.open.fetch_add(1, Relaxed);
            g.total.fetch_add(1, Relaxed);
        }
    }

    /// From now until its first request is routed, the connection's writes (a TLS
    /// handshake, HTTP/2 settings) are held and then go to that request's technique, as its
    /// reads do (to `other` if it never routes one). HTTP/1.1 in cleartext writes nothing
    /// before its first request and does not call this. Call it before any subscription.
    pub fn hold_writes(&self) {
        self.holding.store(true, Relaxed);
    }

    /// The protocol the connection speaks, once known.
    pub fn protocol(&self) -> Option<Protocol> {
        Protocol::from_index(self.protocol.load(Relaxed))
    }

    fn multiplexed(&self) -> bool {
        self.protocol().is_some_and(Protocol::multiplexed)
    }

    /// A request for technique `t` was routed on this connection.
    pub fn route(&self, t: Technique) {
        if self.sticky.load(Relaxed) {
            return;
        }
        if self.multiplexed() {
            // HTTP/2: the first request's technique keeps the connection (module doc).
            self.sticky.store(true, Relaxed);
        }
        let ti = t as u8;
        self.current.store(ti, Relaxed);
        let pending = self.pending_read.swap(0, Relaxed);
        self.metrics.of(t).bytes_read.fetch_add(pending, Relaxed);
        if self.holding.swap(false, Relaxed) {
            let held = self.delivered.swap(0, Relaxed);
            self.metrics.of(t).bytes_written.fetch_add(held, Relaxed);
        }
        let prev = self.last.swap(ti, Relaxed);
        if prev != ti {
            self.metrics
                .of(Technique::from_index(prev))
                .connections
                .fetch_sub(1, Relaxed);
            self.metrics.of(t).connections.fetch_add(1, Relaxed);
        }
        if t == Technique::Ws {
            self.sticky.store(true, Relaxed);
        }
    }

    /// The response body of the current request has ended.
    pub fn response_done(&self) {
        if !self.sticky.load(Relaxed) {
            self.current.store(UNROUTED, Relaxed);
        }
    }

    fn on_read(&self, n: u64) {
        match self.current.load(Relaxed) {
            UNROUTED => {
                self.pending_read.fetch_add(n, Relaxed);
            }
            t => {
                self.metrics
                    .of(Technique::from_index(t))
                    .bytes_read
                    .fetch_add(n, Relaxed);
            }
        }
    }

    /// Counts `n` bytes written to the connection.
    pub(crate) fn on_write(&self, n: u64) {
        if self.holding.load(Relaxed) {
            self.delivered.fetch_add(n, Relaxed);
            return;
        }
        if self.multiplexed() {
            self.delivered.fetch_add(n, Relaxed);
        }
        let t = Technique::from_index(self.last.load(Relaxed));
        self.metrics.of(t).bytes_written.fetch_add(n, Relaxed);
    }

    /// This connection now carries a subscription to `topic`, caught up to `delivered`.
    pub fn watch(&self, topic: Arc<Topic>, delivered: u64) {
        if self.multiplexed() {
            return; // not one subscription per connection (module doc)
        }
        self.delivered.store(delivered, Relaxed);
        *self.sub.lock().unwrap_or_else(|e| e.into_inner()) = Some(topic);
    }

    /// The subscription handed the message with seq `seq` to the socket.
    pub fn delivered(&self, seq: u64) {
        if !self.multiplexed() {
            self.delivered.store(seq, Relaxed);
        }
    }

    /// A subscription started on this connection (after its request was routed).
    pub fn subscribed(&self) {
        if self.multiplexed() {
            self.pending_read.fetch_add(1, Relaxed);
        }
    }

    /// A subscription of this connection ended.
    pub fn unsubscribed(&self) {
        if self.multiplexed() {
            self.pending_read.fetch_sub(1, Relaxed);
        }
    }

    /// What [`ConnCell::stalled`] compares with its previous value: the seq delivered last
    /// (HTTP/1.1), or the bytes written (HTTP/2).
    pub fn progress(&self) -> u64 {
        self.delivered.load(Relaxed)
    }

    /// Heartbeat ticks in a row [`ConnCell::stalled`] must hold for before the connection is
    /// cut: 1 (HTTP/1.1: its subscription is also behind); 2 (HTTP/2: only nothing was written,
    /// and an idle subscription's heartbeat may come up to a tick late).
    pub fn stall_ticks(&self) -> u32 {
        if self.multiplexed() { 2 } else { 1 }
    }

    /// HTTP/1.1: true when the subscription is more than `queue` messages behind its topic and
    /// made no progress since the previous check (when it had delivered `prev`). HTTP/2: true
    /// when the connection has a subscription and wrote nothing since the previous check (when
    /// it had written `prev`): every live subscription writes at least a heartbeat each tick
    /// it sent nothing else, so nothing written means a client that stopped reading (or
    /// opening its flow-control window).
    pub fn stalled(&self, queue: u64, prev: u64) -> bool {
        if self.multiplexed() {
            let subscriptions = self.pending_read.load(Relaxed);
            return subscriptions > 0 && self.delivered.load(Relaxed) == prev;
        }
        let guard = self.sub.lock().unwrap_or_else(|e| e.into_inner());
        let Some(topic) = guard.as_ref() else {
            return false;
        };
        let d = self.delivered.load(Relaxed);
        d == prev && topic.latest().saturating_sub(d) > queue
    }

    /// Counts a slow-reader disconnect once per connection; returns whether this call counted it.
    pub fn mark_slow(&self) -> bool {
        if self.slow.swap(true, Relaxed) {
            return false;
        }
        let t = Technique::from_index(self.last.load(Relaxed));
        self.metrics.of(t).slow_disconnects.fetch_add(1, Relaxed);
        true
    }
}

impl Drop for ConnCell {
    fn drop(&mut self) {
        let t = Technique::from_index(self.last.load(Relaxed));
        let c = self.metrics.of(t);
        c.bytes_read
            .fetch_add(self.pending_read.load(Relaxed), Relaxed);
        if self.holding.load(Relaxed) {
            c.bytes_written
                .fetch_add(self.delivered.load(Relaxed), Relaxed);
        }
        c.connections.fetch_sub(1, Relaxed);
        self.metrics.open_connections.fetch_sub(1, Relaxed);
        if let Some(p) = self.protocol() {
            self.metrics.protocol(p).open.fetch_sub(1, Relaxed);
        }
    }
}

impl crate::fanout::Conn for ConnCell {
    fn delivered(&self, seq: u64) {
        ConnCell::delivered(self, seq);
    }

    fn wrote(&self, n: u64) {
        self.on_write(n);
    }

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

/// Drop guard placed in a response body: marks the response as ended when hyper drops it.
#[derive(Debug)]
pub struct ResponseDone(pub Arc<ConnCell>);

impl Drop for ResponseDone {
    fn drop(&mut self) {
        self.0.response_done();
    }
}

/// A stream that counts what goes through it into its connection's [`ConnCell`].
#[derive(Debug)]
pub struct CountingStream<S> {
    inner: S,
    cell: Arc<ConnCell>,
}

impl<S> CountingStream<S> {
    pub fn new(inner: S, cell: Arc<ConnCell>) -> Self {
        CountingStream { inner, cell }
    }
}

impl CountingStream<crate::socket::Shared> {
    /// Waits until the socket may be read (or has hung up); holds no buffer while waiting.
    pub async fn readable(&self) -> io::Result<()> {
        self.inner.readable().await
    }

    /// The socket, for a writer in another task (`fanout`).
    pub fn socket(&self) -> &Arc<tokio::net::TcpStream> {
        self.inner.socket()
    }

    /// The connection's counters.
    pub fn cell(&self) -> &Arc<ConnCell> {
        &self.cell
    }

    /// Reads what the socket holds now into `buf`, counted (`WouldBlock` when nothing).
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.try_read(buf)?;
        if n > 0 {
            self.cell.on_read(n as u64);
        }
        Ok(n)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for CountingStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            self.cell.on_read(n as u64);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for CountingStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            self.cell.on_write(n as u64);
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = r {
            self.cell.on_write(n as u64);
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
