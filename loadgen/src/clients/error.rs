//! Why an exchange with the server failed, as a client counts it: each error has its counted
//! kind, and the errors of the decoders (chunked bodies, lines, the protocol's JSON) convert
//! into it.

use std::io;
use std::time::Duration;

use super::{ChunkedError, LineTooLong, WireError};
use crate::fault::{Injected, injected};
use crate::net::ConnectError;
use crate::net::tls::TlsError;
use crate::stats::ErrorKind;

/// Why an exchange with the server failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The TLS handshake failed: counted as a connect error.
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    #[error("HTTP status {status}")]
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("the server closed the connection")]
    Closed,
    #[error("i/o error: {0}")]
    Io(io::Error),
    /// An injected fault (`--fault`) ended the connection: not the server's error.
    #[error("{0}")]
    Injected(Injected),
}

impl ClientError {
    /// The counted kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ClientError::Connect(_) | ClientError::Tls(_) => ErrorKind::Connect,
            ClientError::Timeout(_) => ErrorKind::Timeout,
            ClientError::Status { .. } => ErrorKind::HttpStatus,
            ClientError::Protocol(_) => ErrorKind::Protocol,
            ClientError::Closed => ErrorKind::Closed,
            ClientError::Io(_) => ErrorKind::Io,
            ClientError::Injected(_) => ErrorKind::Closed,
        }
    }

    /// Whether the server closed or reset the connection.
    pub fn is_disconnect(&self) -> bool {
        match self {
            ClientError::Closed => true,
            ClientError::Io(e) => matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
            ),
            _ => false,
        }
    }

    /// A socket error; an unexpected end of stream is the server closing.
    pub fn from_io(e: io::Error) -> Self {
        if let Some(why) = injected(&e) {
            return ClientError::Injected(why);
        }
        match e.kind() {
            io::ErrorKind::UnexpectedEof => ClientError::Closed,
            io::ErrorKind::TimedOut => ClientError::Timeout("the socket"),
            _ => ClientError::Io(e),
        }
    }
}

impl From<ChunkedError> for ClientError {
    fn from(e: ChunkedError) -> Self {
        ClientError::Protocol(e.to_string())
    }
}

impl From<LineTooLong> for ClientError {
    fn from(e: LineTooLong) -> Self {
        ClientError::Protocol(e.to_string())
    }
}

impl From<WireError> for ClientError {
    fn from(e: WireError) -> Self {
        ClientError::Protocol(e.to_string())
    }
}
