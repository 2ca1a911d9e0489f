//! What the clients of one technique in one process share about how they reach the server:
//! the HTTP version, TLS ([`TlsClient`]), the HTTP/1.1 per-origin connection limit
//! ([`Origin`], `--connections-per-origin`) and the HTTP/2 connections
//! ([`super::h2::H2Pool`], `--streams-per-connection`).
//!
//! A connection is a [`Wire`]: the counted socket, under TLS or not, holding its place in the
//! per-origin limit for as long as it lives. With a limit, a polling client hands its idle
//! connection back to the [`Origin`] between requests and takes whichever is free for the
//! next one, as a browser's connection pool does; a stream or event stream holds its
//! connection (and its place) while it is open, so a client beyond the limit waits, and what
//! it waits is measured as latency (or as loss, if it never gets a place).

use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::h2::H2Pool;
use super::http::HttpConn;
use crate::config::{HttpVersion, TransportConfig};
use crate::net::CountingStream;
use crate::net::tls::{Secured, TlsClient};
use crate::sut::target::Target;

/// How one group of clients reaches the server.
#[derive(Debug, Default)]
pub struct Transport {
    /// `Some` with TLS.
    pub tls: Option<TlsClient>,
    /// `Some` with `--connections-per-origin`.
    pub origin: Option<Origin>,
    /// `Some` with `--http 2`: the shared HTTP/2 connections.
    pub h2: Option<H2Pool>,
}

impl Transport {
    /// The transport of a new group of clients of `target`: its TLS client, and a
    /// per-origin limit and HTTP/2 connections of the group's own.
    pub fn for_target(target: &Target) -> Transport {
        Transport::new(&target.transport, target.tls.clone())
    }

    /// The transport `config` describes, with its TLS client (if TLS).
    pub fn new(config: &TransportConfig, tls: Option<TlsClient>) -> Transport {
        let origin = config.connections_per_origin.map(Origin::new);
        let h2 =
            (config.http == HttpVersion::H2).then(|| H2Pool::new(config.streams_per_connection));
        Transport { tls, origin, h2 }
    }

    /// Whether the subscribers speak HTTP/2 (WebSocket never does).
    pub fn is_h2(&self) -> bool {
        self.h2.is_some()
    }
}

/// One client connection: the counted socket (holding its place in the per-origin limit, if
/// any), in cleartext or under TLS.
pub type Wire = Secured<CountingStream>;

/// The HTTP/1.1 per-origin limit of one technique's clients: at most N connections. A turn
/// (one of N, handed out first come first served, as a browser queues requests) is needed to
/// use one: a stream holds its turn as long as its connection lives; a poller holds it for
/// one request and then leaves the connection idle for the next turn's holder. A connection
/// is opened only by a turn's holder that finds none idle, so there are never more than N.
#[derive(Debug)]
pub struct Origin {
    turns: Arc<Semaphore>,
    idle: Mutex<Vec<HttpConn<Wire>>>,
}

impl Origin {
    pub fn new(limit: u32) -> Origin {
        Origin {
            turns: Arc::new(Semaphore::new(limit as usize)),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// A turn, in arrival order.
    async fn turn(&self) -> OwnedSemaphorePermit {
        match self.turns.clone().acquire_owned().await {
            Ok(p) => p,
            // The semaphore is never closed; wait for shutdown to drop this future.
            Err(_) => std::future::pending().await,
        }
    }

    /// A place for a connection that stays open (a stream, an event stream): kept with the
    /// connection ([`CountingStream::hold`]) until it closes.
    pub async fn place(&self) -> OwnedSemaphorePermit {
        let turn = self.turn().await;
        // An idle connection (none in a group of streams) is closed to make room.
        drop(self.idle.lock().ok().and_then(|mut v| v.pop()));
        turn
    }

    /// A turn for one request, and an idle connection if there is one (else the holder opens
    /// one). The turn is given back by dropping it, after [`Origin::check_in`].
    pub async fn checkout(&self) -> (OwnedSemaphorePermit, Option<HttpConn<Wire>>) {
        let turn = self.turn().await;
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        (turn, idle)
    }

    /// Leaves a reusable connection idle for the next turn's holder.
    pub fn check_in(&self, conn: HttpConn<Wire>) {
        if let Ok(mut v) = self.idle.lock() {
            v.push(conn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn places_are_limited_and_come_back_when_released() {
        let o = Origin::new(2);
        let a = o.place().await;
        let _b = o.place().await;
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(50), o.place());
        assert!(waiting.await.is_err(), "a third place while two are held");
        drop(a);
        let c = tokio::time::timeout(std::time::Duration::from_secs(5), o.checkout()).await;
        assert!(matches!(c, Ok((_, None))));
    }
}
