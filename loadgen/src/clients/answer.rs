//! One GET whose answer is read as it arrives (a stream, an event stream): over HTTP/1.1 on a
//! connection of its own, or over HTTP/2 on a stream of the client's shared connection
//! ([`super::h2`]). The technique modules build the request's path and fields once
//! ([`prepare`]), send it ([`send`]) and read the body the same way whichever the version.

use std::time::Duration;

use super::chunked::ChunkedDecoder;
use super::h2::{self, H2Body};
use super::http::{Body, Head, HttpConn, get_request};
use super::{Client, ClientError, Wire};

/// A request ready to send.
#[derive(Debug)]
pub(super) enum Prepared {
    H1(Vec<u8>),
    H2(http::Request<()>),
}

/// The body of an answer being read.
// The HTTP/1.1 variant is the common one and was the session's own locals before: boxing it
// would add an allocation per connection for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(super) enum Answer {
    H1 {
        conn: HttpConn<Wire>,
        body: Body,
    },
    /// Boxed: an HTTP/1.1 client's task does not carry room for an HTTP/2 stream.
    H2(Box<H2Body>),
}

/// The GET of `path` with `headers` for `c`'s transport.
pub(super) fn prepare(
    c: &Client,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Prepared, ClientError> {
    if c.spec.transport.is_h2() {
        return Ok(Prepared::H2(h2::request(c, path, headers)?));
    }
    Ok(Prepared::H1(get_request(path, &c.spec.host, headers)))
}

/// Sends `req` (an HTTP/1.1 one on a new connection) and reads the answer's head within the
/// read timeout; counts the request and the connect time.
pub(super) async fn send(c: &mut Client, req: Prepared) -> Result<(Head, Answer), ClientError> {
    match req {
        Prepared::H2(req) => {
            let (head, body) = h2::get(c, req, c.spec.read_timeout).await?;
            Ok((head, Answer::H2(Box::new(body))))
        }
        Prepared::H1(request) => {
            let (s, t0) = c.open().await?;
            let mut conn = HttpConn::new(s);
            c.rec.request();
            conn.send(&request, c.spec.read_timeout).await?;
            let mut head = conn.read_head(c.spec.read_timeout).await?;
            c.answered(t0);
            let body = std::mem::replace(&mut head.body, Body::Length(0));
            Ok((head, Answer::H1 { conn, body }))
        }
    }
}

impl Answer {
    /// The chunked decoder of an HTTP/1.1 chunked body (HTTP/2 has no chunks).
    pub(super) fn chunked(&mut self) -> Option<&mut ChunkedDecoder> {
        match self {
            Answer::H1 {
                body: Body::Chunked(d),
                ..
            } => Some(d),
            _ => None,
        }
    }

    /// Reads the body further into `sink`, the next bytes within `timeout`; `Ok(false)` once
    /// it is complete.
    pub(super) async fn read_body<F>(
        &mut self,
        timeout: Duration,
        sink: &mut F,
    ) -> Result<bool, ClientError>
    where
        F: FnMut(&[u8]) -> Result<(), ClientError>,
    {
        match self {
            Answer::H1 { conn, body } => conn.read_body(body, timeout, sink).await,
            Answer::H2(b) => b.read_body(timeout, sink).await,
        }
    }
}
