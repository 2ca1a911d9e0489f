//! HTTP/2 subscribers (`--http 2`): poll, long poll, stream and SSE as requests on HTTP/2
//! streams, K logical clients sharing one connection (`--streams-per-connection`).

use super::{Client, ClientError};

/// The HTTP/2 connections one group of clients shares.
#[derive(Debug)]
pub struct H2Pool {
    /// Logical clients per connection.
    per_connection: u32,
}

impl H2Pool {
    pub fn new(per_connection: u32) -> H2Pool {
        H2Pool {
            per_connection: per_connection.max(1),
        }
    }

    /// Logical clients per connection.
    pub fn per_connection(&self) -> u32 {
        self.per_connection
    }
}

/// Runs one HTTP/2 client until shutdown.
pub(super) async fn run(c: &mut Client) {
    let e = ClientError::Protocol("HTTP/2 clients are not built yet".into());
    c.rec.error(e.kind());
}
