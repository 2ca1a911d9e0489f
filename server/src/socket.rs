//! A connection's socket, shared: the connection's task reads and writes it through
//! [`Shared`] (an `AsyncRead + AsyncWrite` like `TcpStream` itself), and a topic's fan-out
//! (`fanout`) may write a message to it directly from another task with
//! [`TcpStream::try_write`], which takes `&self`. Readiness is tokio's: a `try_*` call that
//! would block clears it, and the next `poll_*_ready` waits for the socket.

use std::io;
use std::net::Shutdown;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A `TcpStream` that another task may also write to.
#[derive(Debug, Clone)]
pub struct Shared(Arc<TcpStream>);

impl Shared {
    /// Shares `stream`.
    pub fn new(stream: TcpStream) -> Shared {
        Shared(Arc::new(stream))
    }

    /// The socket, for a writer in another task.
    pub fn socket(&self) -> &Arc<TcpStream> {
        &self.0
    }

    /// Waits until the socket may be read (or has hung up).
    pub async fn readable(&self) -> io::Result<()> {
        self.0.readable().await
    }

    /// Reads what the socket holds now (`WouldBlock` when nothing).
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
}

impl AsyncRead for Shared {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            ready!(self.0.poll_read_ready(cx))?;
            match self.0.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for Shared {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.0.poll_write_ready(cx))?;
            match self.0.try_write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                r => return Poll::Ready(r),
            }
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.0.poll_write_ready(cx))?;
            match self.0.try_write_vectored(bufs) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                r => return Poll::Ready(r),
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Shuts down the writing half (a FIN), as `TcpStream`'s own `poll_shutdown` does.
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(socket2::SockRef::from(&*self.0).shutdown(Shutdown::Write))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn reads_writes_and_shuts_down_like_the_stream_it_shares() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (s, _) = l.accept().await.unwrap();
        let mut shared = Shared::new(s);
        let other = shared.socket().clone();
        client.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        shared.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        shared.write_all(b"one ").await.unwrap();
        assert_eq!(
            other.try_write(b"two").unwrap(),
            3,
            "a direct write from elsewhere"
        );
        shared.shutdown().await.unwrap();
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"one two");
    }
}
