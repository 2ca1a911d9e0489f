//! The socket under an HTTP/2 connection ([`Lingering`]): when the connection ends, it shuts
//! its sending side and then reads (and counts) what the server still sends until the server
//! closes too, for at most [`LINGER`].
//!
//! Without it, the client would close a socket with the server's last frames (its GOAWAY,
//! answers to the streams the clients reset) unread, which makes the kernel send a TCP reset;
//! the server's unread bytes would then be lost and the two sides' byte counts would differ.
//! Over HTTP/1.1 the client closes idle sockets and never hits this.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use crate::clients::Wire;

/// How long a closing connection waits for the server to close its side.
pub const LINGER: Duration = Duration::from_secs(1);

/// A connection's socket that lingers when shut down (module doc).
#[derive(Debug)]
pub struct Lingering {
    io: Wire,
    /// Whether the sending side is shut.
    shut: bool,
    /// The end of the linger, once it began.
    until: Option<Pin<Box<Sleep>>>,
}

impl Lingering {
    pub fn new(io: Wire) -> Lingering {
        Lingering {
            io,
            shut: false,
            until: None,
        }
    }
}

impl AsyncRead for Lingering {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Lingering {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.shut {
            let r = ready!(Pin::new(&mut this.io).poll_shutdown(cx));
            this.shut = true;
            if r.is_err() {
                // Already broken: nothing more will come.
                return Poll::Ready(Ok(()));
            }
        }
        let until = this
            .until
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(LINGER)));
        let mut scratch = [0u8; 1024];
        loop {
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut this.io).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => continue,
                Poll::Ready(Err(_)) => return Poll::Ready(Ok(())),
                Poll::Pending => break,
            }
        }
        match until.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Ok(())),
            Poll::Pending => Poll::Pending,
        }
    }
}
