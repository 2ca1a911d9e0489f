//! The server's error types: [`ServerError`] (what stops `pushbench serve`), [`ClusterError`]
//! (the supervisor-child plumbing), [`RelayError`] (a publish through the supervisor) and
//! [`PublishError`] (a publish, wherever it goes; the broker's own errors are
//! `broker::BrokerError`). Each cause is printed once: the texts hold
//! it, and no error also names it as its `source`.

use crate::{hub, message};

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
    #[error("TLS: {0}")]
    Tls(String),
    #[error("cannot install the signal handler: {0}")]
    Signal(std::io::Error),
    #[error("cannot write to stdout: {0}")]
    Stdout(std::io::Error),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("{0}")]
    ChildFailed(String),
    #[error(transparent)]
    Broker(#[from] crate::broker::BrokerError),
}

/// Errors of the cluster plumbing.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("the cluster supervisor is gone")]
    SupervisorGone,
    #[error("the cluster supervisor did not answer in time")]
    Timeout,
    #[error("bad cluster frame: {0}")]
    Frame(serde_json::Error),
    #[error("cluster socket: {0}")]
    Io(std::io::Error),
    #[error("the cluster supervisor sent {0}")]
    Unexpected(&'static str),
}

// The causes are in the texts above, not also `source`s, so each is printed once.
impl From<serde_json::Error> for ClusterError {
    fn from(e: serde_json::Error) -> Self {
        ClusterError::Frame(e)
    }
}

impl From<std::io::Error> for ClusterError {
    fn from(e: std::io::Error) -> Self {
        ClusterError::Io(e)
    }
}

/// Why a publish through the supervisor failed.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The supervisor refused it (e.g. too many topics).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
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
    Relay(#[from] RelayError),
    /// The connection to the broker (`--broker`) is lost; it is being re-established.
    #[error("the broker {0} is unreachable; retry shortly")]
    BrokerLost(String),
    /// The broker failed the publish.
    #[error(transparent)]
    Broker(crate::broker::BrokerError),
}
