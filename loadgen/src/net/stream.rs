//! The client's end of an emulated connection ([`LinkedStream`]: one end of an in-memory
//! duplex whose other end the link pumps to the real socket), and [`ClientStream`], the
//! stream a client counts: a plain `TcpStream` or a linked one.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::{Acquire, Release};
use std::task::{Context, Poll, ready};

use futures_util::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};
use tokio::net::TcpStream;

/// What the client's end and the link's connection task tell each other.
#[derive(Debug, Default)]
pub struct Shared {
    /// The link ended the connection with a reset: the client's next read or write fails
    /// with `ConnectionReset` instead of seeing a clean end.
    reset: AtomicBool,
    /// The client dropped its end.
    dropped: AtomicBool,
    /// Wakes the connection task when the client drops its end.
    task: AtomicWaker,
}

impl Shared {
    pub fn set_reset(&self) {
        self.reset.store(true, Release);
    }
    pub fn is_reset(&self) -> bool {
        self.reset.load(Acquire)
    }
    pub fn is_dropped(&self) -> bool {
        self.dropped.load(Acquire)
    }
    /// The connection task registers to hear of the client's drop.
    pub fn register(&self, cx: &Context<'_>) {
        self.task.register(cx.waker());
    }
}

/// A connection through an emulated link, as the client sees it: bytes written reach the
/// server after the link's delay and pacing, bytes read left the server that long ago.
/// No descriptor of its own: the socket belongs to the link's runtime.
#[derive(Debug)]
pub struct LinkedStream {
    io: DuplexStream,
    shared: Arc<Shared>,
    local: SocketAddr,
    peer: SocketAddr,
}

impl LinkedStream {
    pub(crate) fn new(
        io: DuplexStream,
        shared: Arc<Shared>,
        local: SocketAddr,
        peer: SocketAddr,
    ) -> Self {
        LinkedStream {
            io,
            shared,
            local,
            peer,
        }
    }
    /// The real socket's local address (the source address the client bound).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
    /// The server's address.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    fn reset_error() -> io::Error {
        io::Error::new(
            io::ErrorKind::ConnectionReset,
            "connection reset by the server (through the emulated link)",
        )
    }
}

impl Drop for LinkedStream {
    fn drop(&mut self) {
        self.shared.dropped.store(true, Release);
        self.shared.task.wake();
    }
}

impl AsyncRead for LinkedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
        if buf.filled().len() == before && buf.remaining() > 0 && this.shared.is_reset() {
            return Poll::Ready(Err(Self::reset_error()));
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for LinkedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match ready!(Pin::new(&mut this.io).poll_write(cx, buf)) {
            Err(_) if this.shared.is_reset() => Poll::Ready(Err(Self::reset_error())),
            r => Poll::Ready(r),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match ready!(Pin::new(&mut this.io).poll_write_vectored(cx, bufs)) {
            Err(_) if this.shared.is_reset() => Poll::Ready(Err(Self::reset_error())),
            r => Poll::Ready(r),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// The stream a simulated client reads and writes: straight to the server, or through an
/// emulated link.
#[derive(Debug)]
pub enum ClientStream {
    Tcp(TcpStream),
    Linked(LinkedStream),
}

impl ClientStream {
    /// The TCP socket, when the stream is a direct one.
    pub fn as_tcp(&self) -> Option<&TcpStream> {
        match self {
            ClientStream::Tcp(s) => Some(s),
            ClientStream::Linked(_) => None,
        }
    }
}

impl From<TcpStream> for ClientStream {
    fn from(s: TcpStream) -> Self {
        ClientStream::Tcp(s)
    }
}

impl From<LinkedStream> for ClientStream {
    fn from(s: LinkedStream) -> Self {
        ClientStream::Linked(s)
    }
}

/// Calls `$method` on whichever stream `$self` holds.
macro_rules! both {
    ($self:expr, $s:ident => $call:expr) => {
        match $self.get_mut() {
            ClientStream::Tcp($s) => $call,
            ClientStream::Linked($s) => $call,
        }
    };
}

impl AsyncRead for ClientStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        both!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        both!(self, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        both!(self, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            ClientStream::Tcp(s) => s.is_write_vectored(),
            ClientStream::Linked(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        both!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        both!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}
