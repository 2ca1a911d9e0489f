//! The front door of every connection: what keeps an idle subscriber small.
//!
//! hyper keeps an 8 KiB read buffer (and a write buffer) for as long as a connection lives,
//! and polls the socket into it during a streaming response to notice the client leaving, so
//! an idle SSE, stream or long-poll connection cost about 11.5 KiB (docs/PERFORMANCE.md).
//! The front door reads the first request head itself, from the socket into a stack buffer
//! only when the socket is readable (`head`), and serves a body-less `GET` of a streaming
//! route without hyper (`writer`): the same handlers, counters, CORS header, stall watch,
//! heartbeats and shutdown, with no buffer held between two frames. A long poll's connection
//! stays with the front door for its next requests (pipelined bytes are kept). Anything else
//! (a publish, a WebSocket upgrade, `/stats`, a head it does not fully understand) is handed
//! to hyper with the bytes already read replayed first (`rewind`), so it is served exactly as
//! before. A connection that starts with the HTTP/2 preface (h2c, prior knowledge) is handed
//! to hyper's HTTP/2 server (`http2`) the same way.

pub mod head;
pub mod live;
pub mod rewind;
pub mod writer;

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::counting::{ConnCell, CountingStream};
use crate::metrics::Protocol;
use crate::server::hyper_connection;
use crate::socket::Shared;
use crate::state::State;
use crate::techniques::subscription::stall_watch;
use crate::{http2, routes};
use head::{Head, Io, Parsed, Peer, Read};
use rewind::Rewind;
use writer::Done;

/// Serves one connection, from its first byte to its close.
pub async fn serve(state: State, stream: TcpStream, cell: Arc<ConnCell>) {
    let mut io = CountingStream::new(Shared::new(stream), cell.clone());
    let mut pending = Vec::new();
    // hyper runs in this task after the front door, unboxed: the task is as large as the
    // larger of the two states, not their sum (the front door boxes its large parts).
    if front_door(&state, &mut io, &mut pending, &cell).await == Next::Hyper {
        // Only as the connection's first bytes (after an HTTP/1.1 request, hyper refuses it).
        if cell.protocol().is_none() && http2::is_preface(&pending) {
            cell.set_protocol(Protocol::H2);
            cell.hold_writes();
            let io = Rewind::new(Bytes::from(pending), io);
            // Boxed: HTTP/1.1 connections do not pay for its state.
            Box::pin(http2::serve(state, io, cell)).await;
            return;
        }
        cell.set_protocol(Protocol::H1);
        let io = Rewind::new(Bytes::from(pending), io);
        hyper_connection(state, io, cell).await;
    }
}

/// What becomes of a connection after the front door.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    /// It is closed.
    Closed,
    /// hyper serves the rest, from the bytes in `pending`.
    Hyper,
}

/// Serves the requests of a connection that are the front door's, until it closes or the
/// next request is hyper's.
async fn front_door(
    state: &State,
    io: &mut Io,
    pending: &mut Vec<u8>,
    cell: &Arc<ConnCell>,
) -> Next {
    let mut signals = state.signals.subscribe();
    let stall = stall_watch(cell, signals.clone(), state.hub.queue());
    tokio::pin!(stall);
    loop {
        let read = head::read(io, pending, state.args.header_read_timeout, &mut signals).await;
        if let Read::Parsed(Parsed::Ours(_)) = &read {
            cell.set_protocol(Protocol::H1);
        }
        let Head { req, len, close } = match read {
            Read::Parsed(Parsed::Ours(head)) => *head,
            Read::Parsed(_) => return Next::Hyper,
            Read::Closed => return Next::Closed,
            Read::Failed => return failed(state),
        };
        pending.drain(..len);
        if pending.is_empty() {
            *pending = Vec::new(); // hold no capacity while idle
        }
        let version = req.version();
        // Boxed: only a held long poll keeps its handler's state for long.
        let mut answer = Box::pin(routes::handle_front_door(req, state, cell));
        let (resp, live) = loop {
            tokio::select! {
                r = &mut answer => break r,
                p = head::peer(io, pending), if pending.is_empty() => {
                    if p == Peer::Gone {
                        // A held long poll whose client left: as with hyper, an error.
                        return failed(state);
                    }
                }
            }
        };
        drop(answer);
        let close = close || signals.borrow().shutdown;
        // Boxed, as the handler: the task stays as small as hyper's (short polls and WebSocket
        // connections, which hyper serves, pay nothing for the front door).
        let written = Box::pin(writer::respond(
            io,
            resp,
            live,
            state.args.direct_fanout_min,
            version,
            close,
            pending,
            stall.as_mut(),
        ));
        match written.await {
            Done::KeepAlive => {}
            Done::Close => {
                let _ = io.shutdown().await;
                return Next::Closed;
            }
            Done::Stalled => {
                cell.mark_slow();
                return Next::Closed;
            }
            Done::Failed => return failed(state),
        }
    }
}

/// Counts a connection that ended with an error.
fn failed(state: &State) -> Next {
    state.metrics.connection_errors.fetch_add(1, Relaxed);
    Next::Closed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The task of every connection is sized for its largest state: the front door's (a
    /// held long poll's handler and an answer being written are boxed) adds at most 256 bytes
    /// to hyper's, so connections hyper serves pay next to nothing for it.
    #[tokio::test]
    async fn the_connection_task_is_about_as_small_as_hyper_s() {
        let state = crate::state::Shared::new(crate::config::ServeArgs::default()).unwrap();
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let cell = ConnCell::new(state.metrics.clone());
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let whole = std::mem::size_of_val(&serve(state.clone(), c, cell.clone()));
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let io = Rewind::new(
            Bytes::new(),
            CountingStream::new(Shared::new(c), cell.clone()),
        );
        let hyper = std::mem::size_of_val(&hyper_connection(state.clone(), io, cell.clone()));
        assert!(whole <= hyper + 256, "{whole} bytes, hyper's alone {hyper}");
        assert!(whole < 2048, "{whole} bytes");
    }
}
