//! pushbench's instrumented push server: every push technique (short poll, long poll, HTTP
//! streaming, Server-Sent Events, WebSocket) over one message hub, on one port, with byte
//! counting at the socket and per-technique counters. The wire contract is docs/PROTOCOL.md.
//!
//! [`serve`] is what `pushbench serve` runs. To embed the server (tests, benchmarks), build its
//! state with [`Shared::new`], bind a listener (e.g. [`server::bind`] on `127.0.0.1:0`) and
//! drive [`run`] with a `CancellationToken`; cancelling it is the one graceful shutdown path.
//!
//! With `--processes N` (N > 1) [`serve`] becomes the supervisor of N server processes sharing
//! the port; see `cluster`.
//!
//! Modules: `cluster` (several processes, one sequence), `config` (options), `body` (reading a
//! publish body within its limits), `hub` (topics, retention, fan-out), `lifeline` (children
//! that stop with their parent), `message` (encoded once per framing), `subscription` (replay +
//! live + heartbeats, shared by stream/SSE/WebSocket), `poll`, `long_poll`, `stream`, `sse`,
//! `ws` (one per technique), `routes` (paths, errors, CORS), `counting` (socket byte counting),
//! `metrics` (`/stats`, `/metrics`), `publisher` (internal publisher), `server` (accept loop,
//! connection limit, shutdown).

pub mod body;
pub mod cluster;
pub mod config;
pub mod counting;
pub mod hub;
pub mod lifeline;
pub mod long_poll;
pub mod message;
pub mod metrics;
pub mod poll;
pub mod publisher;
pub mod routes;
pub mod server;
pub mod sse;
pub mod stream;
pub mod subscription;
pub mod ws;

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use tokio::sync::watch;
use tokio_util::task::TaskTracker;

pub use config::ServeArgs;
pub use metrics::{Metrics, ProcessStats, Technique};
pub use server::{run, serve};

/// Errors of the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {error}")]
    Bind {
        addr: std::net::SocketAddr,
        error: std::io::Error,
    },
    #[error("invalid option: {0}")]
    Config(String),
    #[error("cannot install the signal handler: {0}")]
    Signal(std::io::Error),
    #[error("cannot write to stdout: {0}")]
    Stdout(std::io::Error),
    #[error(transparent)]
    Cluster(#[from] cluster::ClusterError),
    #[error("{0}")]
    ChildFailed(String),
}

/// Why a publish failed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The topic would be one more than `--max-topics`.
    #[error(transparent)]
    TopicLimit(#[from] hub::TopicLimit),
    /// The message could not be encoded.
    #[error(transparent)]
    Encode(#[from] message::EncodeError),
    /// A cluster's supervisor refused it or could not be reached.
    #[error(transparent)]
    Relay(#[from] cluster::child::RelayError),
}

/// The broadcast of the shared ticker: heartbeat ticks and the shutdown flag.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Signal {
    /// Heartbeat ticks so far.
    pub tick: u64,
    /// Set once when the server starts shutting down.
    pub shutdown: bool,
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
    http: hyper::server::conn::http1::Builder,
    /// The link to the supervisor when this process is a cluster child.
    cluster: Option<Arc<cluster::Link>>,
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
        Self::build(args, None)
    }

    /// Builds the state of a cluster child, which publishes through `link`.
    pub fn with_link(args: ServeArgs, link: Arc<cluster::Link>) -> Result<State, ServerError> {
        Self::build(args, Some(link))
    }

    fn build(args: ServeArgs, cluster: Option<Arc<cluster::Link>>) -> Result<State, ServerError> {
        check_args(&args)?;
        let mut http = hyper::server::conn::http1::Builder::new();
        http.keep_alive(true)
            .max_buf_size(64 * 1024)
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(args.header_read_timeout);
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
            http,
            cluster,
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
        match &self.cluster {
            None => self.publish(topic, event, data),
            Some(link) => Ok(link.publish(topic, event, data).await?),
        }
    }

    /// This process's own `/stats` document.
    pub fn local_stats_json(&self) -> serde_json::Value {
        self.metrics.stats_json(self.hub.topic_count())
    }

    /// The `/stats` document of the whole server (every process of a cluster).
    pub async fn stats_json(&self) -> Result<serde_json::Value, cluster::ClusterError> {
        match &self.cluster {
            None => Ok(self.local_stats_json()),
            Some(link) => link.stats().await,
        }
    }

    /// Zeroes the counters of the whole server (every process of a cluster).
    pub async fn reset_stats(&self) -> Result<(), cluster::ClusterError> {
        match &self.cluster {
            None => {
                self.metrics.reset();
                Ok(())
            }
            Some(link) => link.reset().await,
        }
    }
}
