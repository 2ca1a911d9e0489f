//! Request heads as the front door reads them: read from the socket when it is readable into
//! a stack buffer, kept only while a head is incomplete (so an idle connection holds no read
//! buffer), and parsed (RFC 9112 with `httparse`, as hyper does). A head is the front door's
//! only when it understands all of it: a body-less `GET` of a streaming route (SSE, stream,
//! long poll) in origin form, HTTP/1.0 or 1.1, no `Upgrade`, `Expect`, `Transfer-Encoding`
//! or non-zero `Content-Length`, at most [`MAX_HEADERS`] headers within [`MAX_HEAD`] bytes,
//! every name and value valid. Anything else goes to hyper, which answers it as before.

use std::io;
use std::time::Duration;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Uri, Version};
use tokio::sync::watch;

use crate::counting::CountingStream;
use crate::routes;
use crate::state::Signal;

/// The connection's socket, counted.
pub type Io = CountingStream<crate::socket::Shared>;

/// Longest head the front door reads; a longer one is hyper's (which answers `431` past its
/// own limit).
pub const MAX_HEAD: usize = 8192;

/// Most header fields the front door parses; a head with more is hyper's.
pub const MAX_HEADERS: usize = 32;

/// A complete head the front door serves.
#[derive(Debug)]
pub struct Head {
    /// The request (no body).
    pub req: Request<()>,
    /// Bytes of the head, to drop from what was read.
    pub len: usize,
    /// The client asked for the connection to close after the answer (`Connection: close`,
    /// or HTTP/1.0, whose connections the front door never keeps open).
    pub close: bool,
}

/// What the bytes read so far hold.
#[derive(Debug)]
pub enum Parsed {
    /// The start of a head (or nothing): read more.
    Partial,
    /// A head the front door serves (boxed: it is large, and short-lived).
    Ours(Box<Head>),
    /// A head (or garbage) for hyper.
    Hyper,
}

/// Parses the head at the start of `buf`.
pub fn parse(buf: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut r = httparse::Request::new(&mut headers);
    let len = match r.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => return Parsed::Partial,
        Ok(httparse::Status::Partial) | Err(_) => return Parsed::Hyper,
    };
    let (Some("GET"), Some(target), Some(v @ (0 | 1))) = (r.method, r.path, r.version) else {
        return Parsed::Hyper;
    };
    if !target.starts_with('/') {
        return Parsed::Hyper;
    }
    let Ok(uri) = target.parse::<Uri>() else {
        return Parsed::Hyper;
    };
    if !routes::front_door_route(uri.path()) {
        return Parsed::Hyper;
    }
    let mut close = v == 0;
    let mut map = HeaderMap::with_capacity(r.headers.len());
    for h in r.headers.iter() {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(h.name.as_bytes()),
            HeaderValue::from_bytes(h.value),
        ) else {
            return Parsed::Hyper;
        };
        match name {
            header::CONTENT_LENGTH if value.as_bytes() != b"0" => return Parsed::Hyper,
            header::TRANSFER_ENCODING | header::UPGRADE | header::EXPECT => return Parsed::Hyper,
            header::CONNECTION => {
                for token in value.as_bytes().split(|b| *b == b',') {
                    let token = token.trim_ascii();
                    if token.eq_ignore_ascii_case(b"close") {
                        close = true;
                    } else if token.eq_ignore_ascii_case(b"upgrade") {
                        return Parsed::Hyper;
                    }
                }
            }
            _ => {}
        }
        map.append(name, value);
    }
    let mut req = Request::new(());
    *req.method_mut() = Method::GET;
    *req.uri_mut() = uri;
    *req.version_mut() = if v == 0 {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    *req.headers_mut() = map;
    Parsed::Ours(Box::new(Head { req, len, close }))
}

/// How reading a head ended.
#[derive(Debug)]
pub enum Read {
    /// Read (and parsed) a head.
    Parsed(Parsed),
    /// The client closed between requests, sent no complete head within the
    /// header-read timeout, or the server is shutting down: close without an answer (not an
    /// error).
    Closed,
    /// The client vanished mid-head, or the socket failed: an error of the connection.
    Failed,
}

/// Reads until `pending` (what was read before) starts with a complete head, or one that is
/// hyper's, within `timeout`; gives up when the server shuts down. Holds no buffer while
/// waiting.
pub async fn read(
    io: &Io,
    pending: &mut Vec<u8>,
    timeout: Duration,
    signals: &mut watch::Receiver<Signal>,
) -> Read {
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    loop {
        if signals.borrow_and_update().shutdown {
            return Read::Closed;
        }
        if !pending.is_empty() {
            match parse(pending) {
                Parsed::Partial => {}
                done => return Read::Parsed(done),
            }
        }
        tokio::select! {
            r = io.readable() => if r.is_err() {
                return Read::Failed;
            },
            _ = &mut deadline => return Read::Closed,
            r = signals.changed() => if r.is_err() {
                return Read::Closed;
            },
        }
        match read_some(io, pending) {
            Ok(0) if pending.is_empty() => return Read::Closed,
            Ok(0) => return Read::Failed,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => return Read::Failed,
        }
    }
}

/// What the client did while an answer was in progress.
#[derive(Debug, PartialEq, Eq)]
pub enum Peer {
    /// Sent more bytes (a pipelined request), now at the end of `pending`.
    Sent,
    /// Closed its side or reset the connection.
    Gone,
}

/// Waits for the client to send something or go away while an answer is in progress (how a
/// vanished subscriber is noticed). Holds no buffer while waiting.
pub async fn peer(io: &Io, pending: &mut Vec<u8>) -> Peer {
    loop {
        if io.readable().await.is_err() {
            return Peer::Gone;
        }
        match read_some(io, pending) {
            Ok(0) => return Peer::Gone,
            Ok(_) => return Peer::Sent,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => return Peer::Gone,
        }
    }
}

/// Appends what the socket holds now (up to [`MAX_HEAD`] in all) to `pending`. Not async: the
/// stack buffer is never part of the connection's task.
fn read_some(io: &Io, pending: &mut Vec<u8>) -> io::Result<usize> {
    let mut buf = [0u8; 2048];
    let room = MAX_HEAD.saturating_sub(pending.len()).clamp(1, buf.len());
    let n = io.try_read(&mut buf[..room])?;
    pending.extend_from_slice(&buf[..n]);
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(raw: &str) -> Head {
        match parse(raw.as_bytes()) {
            Parsed::Ours(h) => *h,
            other => panic!("{raw:?}: {other:?}"),
        }
    }

    fn is_hyper(raw: &str) -> bool {
        matches!(parse(raw.as_bytes()), Parsed::Hyper)
    }

    #[test]
    fn body_less_gets_of_streaming_routes_are_the_front_doors() {
        let raw = "GET /sse/t?since=3 HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 7\r\n\r\nGET /next";
        let h = ours(raw);
        assert_eq!(h.len, raw.len() - "GET /next".len());
        assert!(!h.close);
        assert_eq!(h.req.uri().path(), "/sse/t");
        assert_eq!(h.req.uri().query(), Some("since=3"));
        assert_eq!(h.req.version(), Version::HTTP_11);
        assert_eq!(h.req.headers()["last-event-id"], "7");
        let h = ours("GET /stream/t HTTP/1.0\r\n\r\n");
        assert!(h.close, "HTTP/1.0 is never kept open");
        assert_eq!(h.req.version(), Version::HTTP_10);
        let h = ours(
            "GET /long-poll/t HTTP/1.1\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n",
        );
        assert!(h.close);
    }

    #[test]
    fn incomplete_heads_wait_for_more() {
        for raw in ["", "GE", "GET /sse/t HTTP/1.1\r\nHost: x\r\n"] {
            assert!(matches!(parse(raw.as_bytes()), Parsed::Partial), "{raw:?}");
        }
    }

    #[test]
    fn everything_else_is_hyper_s() {
        let long = format!("GET /sse/t HTTP/1.1\r\nX: {}\r\n", "a".repeat(MAX_HEAD));
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: 1\r\n")).collect();
        let many = format!("GET /sse/t HTTP/1.1\r\n{many}\r\n");
        for raw in [
            "HEAD /sse/t HTTP/1.1\r\n\r\n",
            "POST /publish/t HTTP/1.1\r\nContent-Length: 1\r\n\r\nx",
            "OPTIONS /sse/t HTTP/1.1\r\n\r\n",
            "GET /poll/t HTTP/1.1\r\n\r\n",
            "GET /ws/t HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            "GET /sse/t HTTP/1.1\r\nConnection: upgrade\r\n\r\n",
            "GET /sse/t HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
            "GET /sse/t HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET /sse/t HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
            "GET http://x/sse/t HTTP/1.1\r\n\r\n",
            "GET /stats HTTP/1.1\r\n\r\n",
            "GET /sse/t HTTP/2.0\r\n\r\n",
            "GET /sse/t HTTP/1.1\r\nBad Name: x\r\n\r\n",
            "\x16\x03\x01 TLS hello",
            &long,
            &many,
        ] {
            assert!(is_hyper(raw), "{raw:?}");
        }
    }
}
