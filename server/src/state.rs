//! What the connections of one server process share ([`Shared`]: options, hub, counters,
//! heartbeat and shutdown signals, connection tasks, the body budget), and the [`Upstream`]
//! a cluster child leaves sequencing and whole-server figures to.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use contract::stats::Stats;
use futures_util::future::BoxFuture;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

use crate::config::ServeArgs;
use crate::error::{ClusterError, PublishError, RelayError, ServerError};
use crate::metrics::Metrics;
use crate::{body, hub};

/// The broadcast of the shared ticker: heartbeat ticks and the shutdown flag.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Signal {
    /// Heartbeat ticks so far.
    pub tick: u64,
    /// Set once when the server starts shutting down.
    pub shutdown: bool,
}

/// What a server process that is one of a cluster leaves to the process above it (the
/// supervisor: see `cluster`): assigning sequence numbers, and the figures and the reset of
/// the whole server. A single process has none.
pub trait Upstream: std::fmt::Debug + Send + Sync {
    /// Publishes through the supervisor; the assigned seq, once the message is in this
    /// process's hub too.
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        event: Option<&'a str>,
        data: &'a str,
    ) -> BoxFuture<'a, Result<u64, RelayError>>;

    /// Waits until this process holds every message of `topic` sequenced so far; returns the
    /// topic's newest seq.
    fn sync<'a>(&'a self, topic: &'a str) -> BoxFuture<'a, Result<u64, ClusterError>>;

    /// The whole server's `/stats` document.
    fn stats(&self) -> BoxFuture<'_, Result<Stats, ClusterError>>;

    /// Zeroes the counters of every process.
    fn reset(&self) -> BoxFuture<'_, Result<(), ClusterError>>;
}

/// Everything the connections of one server share.
#[derive(Debug)]
pub struct Shared {
    /// The options the server runs with.
    pub args: ServeArgs,
    /// Topics and their messages.
    pub hub: hub::Hub,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Heartbeat ticks and shutdown, watched by every subscriber.
    pub signals: watch::Sender<Signal>,
    /// Connection tasks (HTTP and upgraded WebSocket), awaited on shutdown.
    pub tasks: TaskTracker,
    /// Publish body bytes buffered at once, all connections together (`--body-buffer-bytes`).
    pub body_budget: body::Budget,
    /// The request-scoped streams being long-polled, and stream ids (`/generate`).
    pub generate: crate::techniques::generate::Registry,
    /// How hyper serves a connection (limits and timeouts from the options).
    pub(crate) http: hyper::server::conn::http1::Builder,
    /// How hyper serves an HTTP/2 connection (`http2`).
    pub(crate) h2: hyper::server::conn::http2::Builder<hyper_util::rt::TokioExecutor>,
    /// With `--tls`: the certificate and how connections are accepted (every connection of
    /// the port is TLS then).
    pub tls: Option<crate::tls::Tls>,
    /// The supervisor when this process is a cluster child.
    upstream: Option<Arc<dyn Upstream>>,
    /// With `--broker`: the broker every publish and every cursor ahead of the hub go to
    /// (in a cluster too; the supervisor then only gathers figures).
    broker: Option<Arc<crate::broker::Broker>>,
}

impl AsRef<hub::Hub> for Shared {
    fn as_ref(&self) -> &hub::Hub {
        &self.hub
    }
}

/// A handle to a server's shared state.
pub type State = Arc<Shared>;

/// Checks the options that clap cannot check alone.
pub fn check_args(args: &ServeArgs) -> Result<(), ServerError> {
    if !args.publish_rate.is_finite() || args.publish_rate < 0.0 || args.publish_rate > 1e6 {
        return Err(ServerError::Config(format!(
            "--publish-rate must be between 0 and 1000000 messages/s, not {}",
            args.publish_rate
        )));
    }
    if !hub::valid_name(&args.publish_topic) {
        return Err(ServerError::Config(format!(
            "--publish-topic {:?}: a topic is 1 to 64 characters from [A-Za-z0-9_.-]",
            args.publish_topic
        )));
    }
    if args.payload_bytes > args.max_payload_bytes {
        return Err(ServerError::Config(
            "--payload-bytes is larger than --max-payload-bytes".to_string(),
        ));
    }
    if let Some(o) = &args.allow_origin {
        if o.is_empty() || http::HeaderValue::from_str(o).is_err() {
            return Err(ServerError::Config(format!(
                "--allow-origin {o:?} is not a valid header value"
            )));
        }
    }
    Ok(())
}

impl Shared {
    /// Builds the state of a server from its options (checks them).
    pub fn new(args: ServeArgs) -> Result<State, ServerError> {
        Self::build(args, None, None)
    }

    /// Builds the state of a server whose topics are shared over the broker of `--broker`,
    /// optionally as a cluster child (`upstream`: the supervisor, for figures only): connects
    /// to it (an error if it does not answer, so nothing half-starts) and feeds what it
    /// delivers into the hub until `shutdown`.
    pub async fn over_broker(
        args: ServeArgs,
        upstream: Option<Arc<dyn Upstream>>,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> Result<State, ServerError> {
        let url = args
            .broker
            .clone()
            .ok_or_else(|| ServerError::Config("--broker is missing".into()))?;
        let (broker, feed) = crate::broker::Broker::connect(&url, &args.broker_options()).await?;
        let state = Self::build(args, upstream, Some(broker.clone()))?;
        tokio::spawn(broker.run_feed(state.clone(), feed, shutdown));
        Ok(state)
    }

    /// Builds the state of a cluster child, which publishes through `upstream`.
    pub fn with_upstream(
        args: ServeArgs,
        upstream: Arc<dyn Upstream>,
    ) -> Result<State, ServerError> {
        Self::build(args, Some(upstream), None)
    }

    fn build(
        args: ServeArgs,
        upstream: Option<Arc<dyn Upstream>>,
        broker: Option<Arc<crate::broker::Broker>>,
    ) -> Result<State, ServerError> {
        check_args(&args)?;
        let mut http = hyper::server::conn::http1::Builder::new();
        http.keep_alive(true)
            .max_buf_size(64 * 1024)
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(args.header_read_timeout);
        let tls = crate::tls::load(&args)?;
        let h2 = crate::http2::builder(&args);
        let (signals, _) = watch::channel(Signal::default());
        Ok(Arc::new(Shared {
            hub: hub::Hub::new(
                args.retention as usize,
                args.subscriber_queue as usize,
                usize::try_from(args.max_topics).unwrap_or(usize::MAX),
            ),
            metrics: Arc::new(Metrics::default()),
            signals,
            tasks: TaskTracker::new(),
            body_budget: body::Budget::new(args.body_buffer_bytes.max(args.max_payload_bytes)),
            generate: Default::default(),
            http,
            h2,
            tls,
            upstream,
            broker,
            args,
        }))
    }

    /// Publishes `data` to `topic` (must be a valid name) in this process's hub; returns the
    /// sequence number. (A cluster child publishes with [`Shared::publish_anywhere`].)
    pub fn publish(
        &self,
        topic: &str,
        event: Option<&str>,
        data: &str,
    ) -> Result<u64, PublishError> {
        let seq = self.hub.topic(topic)?.publish(event, data)?;
        self.metrics.published.fetch_add(1, Relaxed);
        Ok(seq)
    }

    /// Publishes for a client: in this process, or through a cluster's supervisor (which
    /// assigns the seq and relays the message to every process).
    pub async fn publish_anywhere(
        &self,
        topic: &str,
        event: Option<&str>,
        data: &str,
    ) -> Result<u64, PublishError> {
        if let Some(b) = &self.broker {
            let seq = b.publish(&self.hub, topic, event, data).await?;
            self.metrics.published.fetch_add(1, Relaxed);
            return Ok(seq);
        }
        match &self.upstream {
            None => self.publish(topic, event, data),
            Some(up) => Ok(up.publish(topic, event, data).await?),
        }
    }

    /// Call before answering a client that resumes on `topic` from `since`. A cursor above the
    /// topic's newest seq is answered with a gap (it is from an earlier life of the server:
    /// see `hub`). A single process issued every id itself, so such a cursor can only be that.
    /// In a cluster, though, message `since` may have been delivered by another process a few
    /// ms before it reaches this one (the supervisor relays each message to every child over
    /// its own socket, and answers the publish after writing to them all, not after they read
    /// it). So here a cursor ahead of this process costs one round trip to the supervisor,
    /// whose answer travels behind every message it had sequenced: afterwards the hub holds
    /// the topic up to the supervisor's newest seq, and a cursor still ahead of it was
    /// issued by no process of this cluster (a restarted one). If the supervisor does not
    /// answer (gone, or 10 s), the hub answers as it stands.
    /// With a broker, the hub is filled from the broker's retention instead.
    pub async fn await_cursor(&self, topic: &str, since: u64) {
        if let Some(b) = &self.broker {
            return b.sync(&self.hub, topic, since).await;
        }
        let Some(up) = &self.upstream else { return };
        let latest = self.hub.get(topic).map_or(0, |t| t.latest());
        if since <= latest {
            return;
        }
        // An error means the supervisor is gone (this process is shutting down) or overloaded.
        let _ = up.sync(topic).await;
    }

    /// This process's own `/stats` document.
    pub fn local_stats(&self) -> Stats {
        let mut stats = self.metrics.stats(self.hub.topic_count());
        stats.broker = self.broker.as_ref().map(|b| b.status());
        stats
    }

    /// Zeroes this process's own counters (a cluster child's part of a reset).
    pub fn reset_local(&self) {
        self.metrics.reset();
        if let Some(b) = &self.broker {
            b.reset();
        }
    }

    /// The broker, with `--broker`.
    pub fn broker(&self) -> Option<&Arc<crate::broker::Broker>> {
        self.broker.as_ref()
    }

    /// The `/stats` document of the whole server (every process of a cluster).
    pub async fn stats(&self) -> Result<Stats, ClusterError> {
        match &self.upstream {
            None => Ok(self.local_stats()),
            Some(up) => up.stats().await,
        }
    }

    /// Zeroes the counters of the whole server (every process of a cluster).
    pub async fn reset_stats(&self) -> Result<(), ClusterError> {
        match &self.upstream {
            None => {
                self.reset_local();
                Ok(())
            }
            Some(up) => up.reset().await,
        }
    }
}
