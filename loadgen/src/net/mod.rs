//! Client sockets: connect with a timeout (optionally from a chosen source address) and count
//! every byte at the socket.
//!
//! [`CountingStream`] wraps a stream and adds every byte read to the technique's
//! `bytes_down` and every byte written to `bytes_up`: request and response heads, chunk
//! framing, SSE field names, WebSocket frame headers and the upgrade, all of it. It also keeps
//! the technique's open-connection gauge: +1 when a stream is wrapped, -1 when it is dropped.
//! The stream it counts is a [`ClientStream`]: a plain socket, or a connection through an
//! emulated link ([`crate::link`]).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};

pub(crate) mod stream;
pub mod tls;

use crate::fault::ConnFaults;
use crate::stats::Recorder;
pub use stream::{ClientStream, LinkedStream};

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot bind source address {addr}: {error}")]
    Bind { addr: IpAddr, error: io::Error },
    #[error("connect to {addr} failed: {error}")]
    Refused { addr: SocketAddr, error: io::Error },
    #[error("connect to {addr} timed out after {timeout:?}")]
    TimedOut { addr: SocketAddr, timeout: Duration },
}

/// Opens a TCP connection to `server` within `timeout`, bound first to `source` (port chosen
/// at connect time, `IP_BIND_ADDRESS_NO_PORT`) when given, with `TCP_NODELAY` set, and wraps
/// it so that its bytes and its lifetime are counted in `rec`.
pub async fn connect(
    server: SocketAddr,
    source: Option<IpAddr>,
    timeout: Duration,
    rec: &Arc<Recorder>,
) -> Result<CountingStream, ConnectError> {
    let stream = connect_tcp(server, source, timeout).await?;
    Ok(CountingStream::new(
        ClientStream::Tcp(stream),
        Arc::clone(rec),
    ))
}

/// The socket of [`connect`], uncounted (an emulated link carries it).
pub async fn connect_tcp(
    server: SocketAddr,
    source: Option<IpAddr>,
    timeout: Duration,
) -> Result<TcpStream, ConnectError> {
    let refused = |error| ConnectError::Refused {
        addr: server,
        error,
    };
    let socket = Socket::new(
        Domain::for_address(server),
        Type::STREAM,
        Some(Protocol::TCP),
    )
    .map_err(refused)?;
    socket.set_nonblocking(true).map_err(refused)?;
    if let Some(ip) = source {
        let bind_err = |error| ConnectError::Bind { addr: ip, error };
        if ip.is_ipv4() {
            // Without it, bind() reserves an ephemeral port for every destination at once,
            // and ~28k clients exhaust a source address; with it, the port is picked at
            // connect time per (source, destination). Best effort: old kernels lack it.
            let _ = set_bind_address_no_port(&socket);
        }
        socket
            .bind(&SocketAddr::new(ip, 0).into())
            .map_err(bind_err)?;
    }
    let socket = TcpSocket::from_std_stream(socket.into());
    let stream = match tokio::time::timeout(timeout, socket.connect(server)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(refused(e)),
        Err(_) => {
            return Err(ConnectError::TimedOut {
                addr: server,
                timeout,
            });
        }
    };
    stream.set_nodelay(true).map_err(refused)?;
    // Our clients close their sockets first (end of a technique, a sweep step), and a socket
    // closed first sits in TIME_WAIT for 60 s holding its (source, port, destination): at
    // 50,000 clients, most of a source address's ~28k ports. Linger 0 closes with a reset
    // instead, leaving nothing behind. Best effort.
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    Ok(stream)
}

/// Sets `IP_BIND_ADDRESS_NO_PORT` (Linux 4.2+), which socket2 does not expose.
fn set_bind_address_no_port(socket: &Socket) -> io::Result<()> {
    use nix::sys::socket::{setsockopt, sockopt::IpBindAddressNoPort};
    setsockopt(socket, IpBindAddressNoPort, &true).map_err(io::Error::from)
}

/// A stream whose bytes are counted into a [`Recorder`] (`bytes_down` read, `bytes_up`
/// written) and which counts as one open connection while it lives, holding its place in the
/// per-origin limit (if any) as long.
#[derive(Debug)]
pub struct CountingStream<S = ClientStream> {
    inner: S,
    rec: Arc<Recorder>,
    /// The connection's injected faults (`--fault`), if any.
    faults: Option<Box<ConnFaults>>,
    /// Its place in `--connections-per-origin`, given back when it closes.
    _place: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl<S> CountingStream<S> {
    /// Wraps `inner`; the recorder's open-connection gauge goes up now and down on drop.
    pub fn new(inner: S, rec: Arc<Recorder>) -> Self {
        rec.connection(true);
        CountingStream {
            inner,
            rec,
            faults: None,
            _place: None,
        }
    }
    /// Holds `place` (in the per-origin limit) until the connection closes.
    pub fn hold(&mut self, place: tokio::sync::OwnedSemaphorePermit) {
        self._place = Some(place);
    }
    /// Puts the connection through `faults` from now on.
    pub fn set_faults(&mut self, faults: ConnFaults) {
        self.faults = Some(Box::new(faults));
    }
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S> CountingStream<S> {
    fn faults_before_write(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        self.faults.as_deref_mut()?.before_write(cx, &self.rec)
    }
    fn wrote(&mut self, n: usize) {
        self.rec.counters.bytes_up.fetch_add(n as u64, Relaxed);
        if n > 0
            && let Some(f) = self.faults.as_deref_mut()
        {
            f.activity();
        }
    }
}

impl<S> Drop for CountingStream<S> {
    fn drop(&mut self) {
        self.rec.connection(false);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for CountingStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(f) = this.faults.as_deref_mut()
            && let Some(answer) = f.before_read(cx, &this.rec)
        {
            return answer;
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let n = buf.filled().len() - before;
        this.rec.counters.bytes_down.fetch_add(n as u64, Relaxed);
        if n > 0
            && let Some(f) = this.faults.as_deref_mut()
        {
            f.activity();
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for CountingStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(e) = this.faults_before_write(cx) {
            return Poll::Ready(Err(e));
        }
        let n = ready!(Pin::new(&mut this.inner).poll_write(cx, buf))?;
        this.wrote(n);
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(e) = this.faults_before_write(cx) {
            return Poll::Ready(Err(e));
        }
        let n = ready!(Pin::new(&mut this.inner).poll_write_vectored(cx, bufs))?;
        this.wrote(n);
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::technique::Technique;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn bind_address_no_port_is_set() {
        use nix::sys::socket::{getsockopt, sockopt::IpBindAddressNoPort};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
        assert!(!getsockopt(&socket, IpBindAddressNoPort).unwrap());
        set_bind_address_no_port(&socket).unwrap();
        assert!(getsockopt(&socket, IpBindAddressNoPort).unwrap());
    }

    #[tokio::test]
    async fn counts_bytes_and_connections() {
        let rec = Arc::new(Recorder::new(Technique::Poll, 1));
        let (a, mut b) = tokio::io::duplex(64);
        let mut s = CountingStream::new(a, Arc::clone(&rec));
        assert_eq!(rec.snapshot().connections, 1);
        s.write_all(b"hello").await.unwrap();
        b.write_all(b"worlds!").await.unwrap();
        let mut got = [0u8; 7];
        s.read_exact(&mut got).await.unwrap();
        let snap = rec.snapshot();
        assert_eq!((snap.bytes_up, snap.bytes_down), (5, 7));
        drop(s);
        assert_eq!(rec.snapshot().connections, 0);
    }

    #[tokio::test]
    async fn unreachable_is_a_connect_error() {
        let rec = Arc::new(Recorder::new(Technique::Poll, 1));
        // A port nobody listens on: bind one, learn it, close it.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let r = connect(addr, None, Duration::from_secs(2), &rec).await;
        assert!(matches!(r, Err(ConnectError::Refused { .. })), "{r:?}");
        assert_eq!(rec.snapshot().connections, 0);
    }

    #[tokio::test]
    async fn binds_a_source_address() {
        let rec = Arc::new(Recorder::new(Technique::Poll, 1));
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let src: IpAddr = "127.0.0.7".parse().unwrap();
        let s = connect(addr, Some(src), Duration::from_secs(2), &rec)
            .await
            .unwrap();
        let (_peer, from) = l.accept().await.unwrap();
        assert_eq!(from.ip(), src);
        assert!(s.get_ref().as_tcp().unwrap().nodelay().unwrap());
    }
}
