//! The accept loop and the life of a connection: connection limit (`503` + `Retry-After` over
//! it), one task per connection (a panic stays inside it), the shared heartbeat ticker, and the
//! one graceful shutdown path (stop accepting, end streams, wait a bounded time).

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::counting::ConnCell;
use crate::error::ServerError;
use crate::metrics::Technique;
use crate::state::State;
use crate::techniques::subscription::{changed, stall_watch};
use crate::{front, publisher, routes};

/// How long shutdown waits for connections to end before giving up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Serves on `listener` until `shutdown` is cancelled, then ends every stream and returns once
/// the connections closed (or after a few seconds). Starts the heartbeat ticker and, when
/// `--publish-rate` is set, the internal publisher.
pub async fn run(listener: TcpListener, state: State, shutdown: CancellationToken) {
    let ticker = tokio::spawn(ticker(state.clone(), shutdown.clone()));
    let publisher = (state.args.publish_rate > 0.0)
        .then(|| tokio::spawn(publisher::run(state.clone(), shutdown.clone())));
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, _peer)) => accept(&state, stream),
            Err(_) => {
                // Out of descriptors or a transient error: back off briefly, never spin.
                state.metrics.connection_errors.fetch_add(1, Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    drop(listener);
    state.signals.send_modify(|s| s.shutdown = true);
    state.tasks.close();
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, state.tasks.wait()).await;
    ticker.abort();
    if let Some(p) = publisher {
        p.abort();
    }
}

fn accept(state: &State, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    if state.metrics.open_connections.load(Relaxed) >= state.args.max_connections {
        state.metrics.rejected_connections.fetch_add(1, Relaxed);
        if state.tls.is_none() {
            tokio::spawn(reject(state.clone(), stream));
        } // a TLS client could not read a cleartext 503: closed at once
        return;
    }
    let cell = ConnCell::new(state.metrics.clone());
    state.tasks.spawn(connection(state.clone(), stream, cell));
}

/// Answers `503` with `Retry-After: 1` and closes, within a bounded time.
async fn reject(state: State, mut stream: TcpStream) {
    const BODY: &str = "server at --max-connections; retry later\n";
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\nconnection: close\r\n\
         content-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    let other = state.metrics.of(Technique::Other);
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        // Read what the client sent so far so closing does not reset the connection.
        let mut buf = [0u8; 2048];
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await
        {
            other.bytes_read.fetch_add(n as u64, Relaxed);
        }
        if stream.write_all(answer.as_bytes()).await.is_ok() {
            other.bytes_written.fetch_add(answer.len() as u64, Relaxed);
        }
        let _ = stream.shutdown().await;
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
            other.bytes_read.fetch_add(n as u64, Relaxed);
        }
    })
    .await;
}

/// One connection: with `--tls`, a TLS one (`tls`, boxed: the cleartext connections do not
/// pay for its state); else its front door serves the streaming routes and hands the rest to
/// hyper (`front`).
async fn connection(state: State, stream: TcpStream, cell: std::sync::Arc<ConnCell>) {
    match state.tls.clone() {
        Some(tls) => Box::pin(crate::tls::serve(state, tls, stream, cell)).await,
        None => front::serve(state, stream, cell).await,
    }
}

/// A connection served by hyper (after the front door, with what it read replayed in `io`);
/// meanwhile the heartbeat tick checks for a stalled subscriber and the shutdown signal starts
/// hyper's graceful shutdown.
pub(crate) async fn hyper_connection<I>(state: State, io: I, cell: std::sync::Arc<ConnCell>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(io);
    let svc_state = state.clone();
    let svc_cell = cell.clone();
    let svc = service_fn(move |req| routes::handle(req, svc_state.clone(), svc_cell.clone()));
    let conn = state.http.serve_connection(io, svc).with_upgrades();
    tokio::pin!(conn);
    let signals = state.signals.subscribe();
    let queue = state.hub.queue();
    let mut shutting_down = signals.borrow().shutdown;
    if shutting_down {
        conn.as_mut().graceful_shutdown();
    }
    let mut stall = stall_watch(&cell, signals.clone(), queue);
    // Polled only when the signals change, not each time hyper's connection wakes.
    let mut next_signal = changed(signals);
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                // A connection closed for sending no request head in time is not an error
                // of the server or of a request (--header-read-timeout).
                if r.is_err_and(|e| !e.is_timeout()) {
                    state.metrics.connection_errors.fetch_add(1, Relaxed);
                }
                return;
            }
            _ = &mut stall, if !shutting_down => {
                cell.mark_slow();
                return;
            }
            (signals, ok) = &mut next_signal, if !shutting_down => {
                if !ok || signals.borrow().shutdown {
                    conn.as_mut().graceful_shutdown();
                    shutting_down = true;
                }
                next_signal = changed(signals);
            }
        }
    }
}

/// The one shared heartbeat ticker: every subscriber hears its ticks through `signals`.
async fn ticker(state: State, shutdown: CancellationToken) {
    let mut iv = tokio::time::interval(state.args.heartbeat);
    iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    iv.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = iv.tick() => state.signals.send_modify(|s| s.tick += 1),
        }
    }
}

/// Binds `addr` with a deep accept backlog (bursts of thousands of connects).
pub fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    bind_with(addr, false)
}

/// Like [`bind`], optionally with SO_REUSEPORT (several processes on one port).
pub fn bind_with(addr: SocketAddr, reuse_port: bool) -> Result<TcpListener, ServerError> {
    let err = |error| ServerError::Bind { addr, error };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(err)?;
    socket.set_reuseaddr(true).map_err(err)?;
    if reuse_port {
        socket.set_reuseport(true).map_err(err)?;
    }
    socket.bind(addr).map_err(err)?;
    socket.listen(4096).map_err(err)
}
