//! HTTP/2 connections (issue 17): cleartext with prior knowledge (h2c: the front door saw the
//! client preface) or negotiated by TLS ALPN (`tls`). hyper's HTTP/2 server serves every
//! endpoint but WebSocket (`routes` refuses it: it needs HTTP/1.1) on the same hub, with the
//! same handlers and counters; each streaming response's frames become DATA frames as they
//! come. The connection's byte counting stays at the TCP socket under it (`counting`).
//!
//! Settings: at most `--h2-max-streams` concurrent streams, an adaptive (BDP-sized) receive
//! window, no keep-alive pings, and at most [`SEND_BUF`] bytes buffered per stream for a
//! client that does not open its window (a stream whose client stopped reading is then no
//! longer polled, falls behind and ends alone as a slow subscriber). A connection with
//! subscriptions that wrote nothing for two heartbeat ticks (its client stopped reading, or
//! opening its windows) is cut as a whole and counted as a slow disconnect. On shutdown the
//! connection sends GOAWAY and its streams end cleanly; so does one that had no request open
//! and wrote nothing for a whole `--header-read-timeout` (idle, as an HTTP/1.1 keep-alive
//! connection between requests). A client's `RST_STREAM` drops the
//! stream's response body, and with it its subscription, at once.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};

use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::config::ServeArgs;
use crate::counting::ConnCell;
use crate::response::Body;
use crate::routes;
use crate::state::State;
use crate::techniques::subscription::{changed, stall_watch};

/// The client connection preface as far as the front door's head parser reads it (it gives
/// up at the version); hyper checks the rest.
const PREFACE_START: &[u8] = b"PRI * HTTP/2.0\r\n";

/// Most bytes of a stream's response buffered for a client that does not read them.
pub const SEND_BUF: usize = 64 * 1024;

/// Whether the bytes a connection started with are (the start of) the HTTP/2 preface.
pub fn is_preface(read: &[u8]) -> bool {
    read.len() >= b"PRI * HTTP/2".len()
        && PREFACE_START.starts_with(&read[..read.len().min(PREFACE_START.len())])
}

/// How hyper serves an HTTP/2 connection, from the options.
pub fn builder(args: &ServeArgs) -> http2::Builder<TokioExecutor> {
    let mut b = http2::Builder::new(TokioExecutor::new());
    b.timer(TokioTimer::new())
        .max_concurrent_streams(args.h2_max_streams)
        .adaptive_window(true)
        .max_send_buf_size(SEND_BUF)
        .max_header_list_size(64 * 1024)
        .keep_alive_interval(None);
    b
}

/// Serves one HTTP/2 connection until it closes; the shutdown signal starts its graceful
/// shutdown (GOAWAY, then open streams end as their bodies do).
pub(crate) async fn serve<I>(state: State, io: I, cell: Arc<ConnCell>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc_state = state.clone();
    let svc_cell = cell.clone();
    let active = Arc::new(AtomicU32::new(0));
    let svc_active = active.clone();
    let svc = service_fn(move |req| {
        let guard = Active::new(svc_active.clone());
        let answer = routes::handle(req, svc_state.clone(), svc_cell.clone());
        async move {
            let resp = answer.await?;
            Ok::<_, Infallible>(resp.map(|body| Tracked {
                body,
                _guard: guard,
            }))
        }
    });
    let conn = state.h2.serve_connection(TokioIo::new(io), svc);
    tokio::pin!(conn);
    let signals = state.signals.subscribe();
    let mut shutting_down = signals.borrow().shutdown;
    if shutting_down {
        conn.as_mut().graceful_shutdown();
    }
    let mut stall = stall_watch(&cell, signals.clone(), state.hub.queue());
    let mut next_signal = changed(signals);
    let mut idle = tokio::time::interval(state.args.header_read_timeout);
    idle.tick().await;
    let activity = || (active.load(Relaxed), cell.progress());
    let mut before = activity();
    loop {
        tokio::select! {
            _ = idle.tick(), if !shutting_down => {
                // No request for a whole --header-read-timeout, nothing written: close, as
                // an idle HTTP/1.1 keep-alive connection is.
                let now = activity();
                if now.0 == 0 && now == before {
                    conn.as_mut().graceful_shutdown();
                    shutting_down = true;
                }
                before = now;
            }
            r = conn.as_mut() => {
                if r.is_err() {
                    state.metrics.connection_errors.fetch_add(1, Relaxed);
                }
                return;
            }
            _ = &mut stall, if !shutting_down => {
                // A client that stopped reading: every stream of the connection goes.
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

/// One request of a connection being answered, from its service call to the end of its
/// response body (or the call's end, if the client reset it first): the idle check's count.
struct Active(Arc<AtomicU32>);

impl Active {
    fn new(count: Arc<AtomicU32>) -> Active {
        count.fetch_add(1, Relaxed);
        Active(count)
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

/// A response body that keeps its request counted as active until hyper drops it.
struct Tracked {
    body: Body,
    _guard: Active,
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preface_is_recognised_from_its_first_line() {
        assert!(is_preface(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
        assert!(is_preface(b"PRI * HTTP/2"));
        assert!(!is_preface(b"PRI * HTTP/1.1\r\n\r\n"));
        assert!(!is_preface(b"GET / HTTP/1.1\r\n\r\n"));
        assert!(!is_preface(b"PRI"));
    }
}
