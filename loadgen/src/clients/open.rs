//! How a client opens its connections: the counted socket (through the emulated link, if
//! any, with the client's injected faults), under TLS if the run says so, holding its place
//! in the per-origin limit; a reconnect counted per client, or per connection when clients
//! share it (HTTP/2).

use std::time::Instant;

use super::{Client, ClientError, Wire};
use crate::config::HttpVersion;
use crate::net;
use crate::net::tls::Secured;
use crate::technique::Technique;

impl Client {
    /// Opens a connection (HTTP/1.1, under TLS if the run says so); returns it and when the
    /// attempt started (for the connect time). A stream or an event stream first waits for
    /// a place in the per-origin limit, if there is one, and holds it while the connection
    /// lives.
    pub(super) async fn open(&mut self) -> Result<(Wire, Instant), ClientError> {
        let transport = self.spec.transport.clone();
        let place = match (&transport.origin, self.spec.technique) {
            (Some(o), Technique::Sse | Technique::Stream) => Some(self.waiting(o.place()).await),
            _ => None,
        };
        self.open_in(place, HttpVersion::H1).await
    }

    /// Waits for `wait` (a place or a turn in the per-origin limit) unless shutdown comes
    /// first: then never, so that a client still queued when the run ends does not connect
    /// in the grace period (the grace's timeout drops it, and it counts nothing).
    pub(super) async fn waiting<T>(&self, wait: impl std::future::Future<Output = T>) -> T {
        tokio::select! {
            biased;
            _ = self.shutdown.cancelled() => std::future::pending().await,
            v = wait => v,
        }
    }

    /// Opens a connection holding `place` (if any) in the per-origin limit, offering
    /// `version` by ALPN under TLS.
    pub(super) async fn open_in(
        &mut self,
        place: Option<tokio::sync::OwnedSemaphorePermit>,
        version: HttpVersion,
    ) -> Result<(Wire, Instant), ClientError> {
        self.connect(place, version, None).await
    }

    /// Opens a connection that several clients share (HTTP/2): a reconnect if `reconnect`
    /// (the connection's pool knows; this client may never have opened one).
    pub(super) async fn open_shared(
        &mut self,
        version: HttpVersion,
        reconnect: bool,
    ) -> Result<(Wire, Instant), ClientError> {
        self.connect(None, version, Some(reconnect)).await
    }

    /// [`Client::open_in`], counted as a reconnect if `reconnect` says so (`None`: if this
    /// client opened one before).
    async fn connect(
        &mut self,
        place: Option<tokio::sync::OwnedSemaphorePermit>,
        version: HttpVersion,
        reconnect: Option<bool>,
    ) -> Result<(Wire, Instant), ClientError> {
        let t0 = Instant::now();
        if self.opened == 0 {
            self.sink.started = t0;
        }
        let (server, source, timeout) = (
            self.spec.server,
            self.spec.source_addr,
            self.spec.connect_timeout,
        );
        let mut s = match &self.spec.link {
            None => net::connect(server, source, timeout, &self.rec).await?,
            Some(link) => {
                link.connect_counted(server, source, timeout, &self.rec)
                    .await?
            }
        };
        if let Some(f) = self.sink.faults.as_ref().filter(|f| f.on_connections()) {
            s.set_faults(f.for_connection());
        }
        if let Some(place) = place {
            s.hold(place);
        }
        if reconnect.unwrap_or(self.opened > 0) {
            self.rec.reconnect();
        }
        self.opened += 1;
        let io: Wire = match &self.spec.transport.tls {
            None => Secured::Plain(s),
            Some(tls) => Secured::Tls(Box::new(tls.connect(s, version, timeout).await?)),
        };
        Ok((io, t0))
    }
}
