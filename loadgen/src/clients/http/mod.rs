//! A small HTTP/1.1 client connection: writes GET requests and reads answers incrementally.
//!
//! Written for many idle connections per process: one read buffer of [`READ_BUF`] bytes per
//! connection (grown only for an unusually large head), bodies handed to a sink as they arrive
//! (`Content-Length`, chunked, or delimited by the close of the connection), every read bounded
//! by a timeout. Keep-alive is honoured: what follows the end of one body stays buffered for
//! the next answer.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

mod head;
mod scratch;

use super::ClientError;
use super::idle::IdleTimer;
pub use head::{Body, Head};
use head::{find_head_end, parse_head};

/// Read buffer size of a connection.
pub const READ_BUF: usize = 4096;
/// Largest answer head accepted.
pub const MAX_HEAD: usize = 64 * 1024;

/// Builds a GET request. `headers` are extra `(name, value)` pairs.
pub fn get_request(path: &str, host: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut r = Vec::with_capacity(64 + path.len() + host.len());
    r.extend_from_slice(b"GET ");
    r.extend_from_slice(path.as_bytes());
    r.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    r.extend_from_slice(host.as_bytes());
    r.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        r.extend_from_slice(name.as_bytes());
        r.extend_from_slice(b": ");
        r.extend_from_slice(value.as_bytes());
        r.extend_from_slice(b"\r\n");
    }
    r.extend_from_slice(b"\r\n");
    r
}

/// One client connection and its read buffer.
#[derive(Debug)]
pub struct HttpConn<S> {
    io: S,
    /// Received bytes; `buf[start..]` are not consumed yet.
    buf: Vec<u8>,
    start: usize,
    /// The body reads' timeout, armed by the first [`HttpConn::read_body`].
    idle: Option<IdleTimer>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> HttpConn<S> {
    pub fn new(io: S) -> Self {
        HttpConn {
            io,
            buf: Vec::with_capacity(READ_BUF),
            start: 0,
            idle: None,
        }
    }

    /// Whether no byte of a next answer has been received.
    pub fn is_idle(&self) -> bool {
        self.start == self.buf.len()
    }

    /// Writes a whole request within `timeout`.
    pub async fn send(&mut self, request: &[u8], timeout: Duration) -> Result<(), ClientError> {
        let write = async {
            self.io.write_all(request).await?;
            self.io.flush().await
        };
        match tokio::time::timeout(timeout, write).await {
            Ok(r) => r.map_err(ClientError::from_io),
            Err(_) => Err(ClientError::Timeout("sending a request")),
        }
    }

    /// Reads the next answer's head; all of it must arrive within `timeout`. Interim `1xx`
    /// answers are skipped.
    pub async fn read_head(&mut self, timeout: Duration) -> Result<Head, ClientError> {
        let read = async {
            loop {
                let head = loop {
                    if let Some(end) = find_head_end(&self.buf[self.start..]) {
                        let head = parse_head(&self.buf[self.start..self.start + end])?;
                        self.start += end;
                        break head;
                    }
                    if self.buf.len() - self.start >= MAX_HEAD {
                        return Err(ClientError::Protocol(format!(
                            "answer head longer than {MAX_HEAD} bytes"
                        )));
                    }
                    if self.fill().await? == 0 {
                        return Err(ClientError::Closed);
                    }
                };
                if !(100..200).contains(&head.status) || head.status == 101 {
                    return Ok(head);
                }
            }
        };
        match tokio::time::timeout(timeout, read).await {
            Ok(r) => r,
            Err(_) => Err(ClientError::Timeout("the answer")),
        }
    }

    /// Reads the body further: passes what is buffered (or, if nothing is, what one read within
    /// `timeout` brings) to `sink`. Returns `Ok(false)` once the body is complete.
    pub async fn read_body<F>(
        &mut self,
        body: &mut Body,
        timeout: Duration,
        sink: &mut F,
    ) -> Result<bool, ClientError>
    where
        F: FnMut(&[u8]) -> Result<(), ClientError>,
    {
        if body.is_done() {
            return Ok(false);
        }
        if self.start < self.buf.len() {
            let used = feed(body, &self.buf[self.start..], sink)?;
            self.start += used;
            if self.start == self.buf.len() {
                release(&mut self.buf, &mut self.start);
            }
            return Ok(!body.is_done());
        }
        // Nothing buffered: one read straight into the thread's scratch buffer, its bytes
        // handed to the body at once, so the connection keeps no buffer while it waits.
        // One timer per connection, not one per read (see `IdleTimer`).
        let idle = self.idle.get_or_insert_with(|| IdleTimer::new(timeout));
        let (io, buf) = (&mut self.io, &mut self.buf);
        let read = std::future::poll_fn(|cx| {
            scratch::read_into(cx, io, |bytes| {
                let used = feed(body, bytes, sink)?;
                // What follows the end of the body is the next answer's: kept.
                buf.extend_from_slice(&bytes[used..]);
                Ok(())
            })
        });
        let n = tokio::select! {
            biased;
            r = read => r?,
            _ = idle.expired() => return Err(ClientError::Timeout("the body")),
        };
        idle.touch();
        if n > 0 {
            return Ok(!body.is_done());
        }
        match body {
            Body::Close => {
                *body = Body::Length(0);
                Ok(false)
            }
            _ => Err(ClientError::Closed),
        }
    }

    /// Reads the whole body (at most `limit` bytes), each read within `timeout`.
    pub async fn read_to_end(
        &mut self,
        body: &mut Body,
        timeout: Duration,
        limit: usize,
    ) -> Result<Vec<u8>, ClientError> {
        let mut out = Vec::new();
        if let Body::Length(n) = body {
            if *n > limit as u64 {
                return Err(ClientError::Protocol(format!(
                    "body larger than {limit} bytes"
                )));
            }
            out.reserve_exact(*n as usize);
        }
        let mut sink = collect_up_to(&mut out, limit);
        while self.read_body(body, timeout, &mut sink).await? {}
        drop(sink);
        Ok(out)
    }

    /// Reads once from the socket into the buffer; returns the bytes read (0: end of stream).
    async fn fill(&mut self) -> Result<usize, ClientError> {
        fill(&mut self.io, &mut self.buf, &mut self.start).await
    }
}

/// Passes the bytes of `avail` that belong to `body` to `sink`; returns how many it took.
fn feed<F>(body: &mut Body, avail: &[u8], sink: &mut F) -> Result<usize, ClientError>
where
    F: FnMut(&[u8]) -> Result<(), ClientError>,
{
    Ok(match body {
        Body::Length(left) => {
            let n = avail
                .len()
                .min(usize::try_from(*left).unwrap_or(usize::MAX));
            sink(&avail[..n])?;
            *left -= n as u64;
            n
        }
        Body::Chunked(d) => d.decode(avail, sink)?,
        Body::Close => {
            sink(avail)?;
            avail.len()
        }
    })
}

/// Gives an emptied read buffer's memory back (a streaming connection mostly waits).
fn release(buf: &mut Vec<u8>, start: &mut usize) {
    *buf = Vec::new();
    *start = 0;
}

/// Reads once more into `buf` (after `buf[start..]`, compacting it first if it is full).
async fn fill<S: AsyncRead + Unpin>(
    io: &mut S,
    buf: &mut Vec<u8>,
    start: &mut usize,
) -> Result<usize, ClientError> {
    if *start == buf.len() {
        buf.clear();
        *start = 0;
    } else if buf.len() == buf.capacity() && *start > 0 {
        buf.drain(..*start);
        *start = 0;
    }
    if buf.len() == buf.capacity() {
        buf.reserve(READ_BUF);
    }
    io.read_buf(buf).await.map_err(ClientError::from_io)
}

/// A body sink that appends to `out`, refusing a body past `limit` bytes (HTTP/1.1's and
/// HTTP/2's `read_to_end`).
pub(super) fn collect_up_to(
    out: &mut Vec<u8>,
    limit: usize,
) -> impl FnMut(&[u8]) -> Result<(), ClientError> + '_ {
    move |b: &[u8]| {
        if out.len() + b.len() > limit {
            return Err(ClientError::Protocol(format!(
                "body larger than {limit} bytes"
            )));
        }
        out.extend_from_slice(b);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[test]
    fn request_bytes() {
        let r = get_request("/sse/t?since=0", "h:1", &[("Accept", "text/event-stream")]);
        assert_eq!(
            r,
            b"GET /sse/t?since=0 HTTP/1.1\r\nHost: h:1\r\nAccept: text/event-stream\r\n\r\n"
        );
    }

    #[test]
    fn heads() {
        let h = parse_head(b"HTTP/1.1 200 OK\r\ncontent-length: 12\r\nContent-Type: a/b\r\n\r\n")
            .unwrap();
        assert!(matches!(h.body, Body::Length(12)) && h.keep_alive && h.status == 200);
        assert_eq!(h.content_type.as_deref(), Some("a/b"));
        let h = parse_head(b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\nConnection: close\n\n")
            .unwrap();
        assert!(matches!(h.body, Body::Chunked(_)) && !h.keep_alive);
        let h = parse_head(b"HTTP/1.0 200 OK\r\n\r\n").unwrap();
        assert!(matches!(h.body, Body::Close) && !h.keep_alive);
        let h = parse_head(b"HTTP/1.1 503 Busy\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        assert_eq!(h.retry_after, Some(Duration::from_secs(1)));
        assert!(matches!(
            h.status_error(),
            Some(ClientError::Status { status: 503, .. })
        ));
        assert!(
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
                .is_err()
        );
        assert!(parse_head(b"HTTP/2 200\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 20 OK\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nnonsense\r\n\r\n").is_err());
        assert_eq!(
            find_head_end(b"HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody"),
            Some(25)
        );
        assert_eq!(find_head_end(b"HTTP/1.1 200 OK\r\nA: b\r\n\r"), None);
    }

    /// Two keep-alive answers (one chunked, split across writes) on one connection.
    #[tokio::test]
    async fn keep_alive_answers_in_pieces() {
        let (client, mut server) = tokio::io::duplex(16);
        let mut conn = HttpConn::new(client);
        let t = Duration::from_secs(5);
        let writer = tokio::spawn(async move {
            let all = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
            for piece in all.chunks(7) {
                server.write_all(piece).await.unwrap();
            }
            server
        });
        let mut h = conn.read_head(t).await.unwrap();
        assert_eq!(h.status, 200);
        assert_eq!(
            conn.read_to_end(&mut h.body, t, 100).await.unwrap(),
            b"abcde"
        );
        let mut h = conn.read_head(t).await.unwrap();
        assert_eq!(
            conn.read_to_end(&mut h.body, t, 100).await.unwrap(),
            b"hello"
        );
        let mut h = parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n").unwrap();
        let r = conn.read_to_end(&mut h.body, t, 100).await;
        assert!(matches!(r, Err(ClientError::Protocol(_))));
        drop(writer.await.unwrap());
        assert!(matches!(conn.read_head(t).await, Err(ClientError::Closed)));
    }

    #[tokio::test]
    async fn silence_is_a_timeout() {
        let (client, _server) = tokio::io::duplex(16);
        let mut conn = HttpConn::new(client);
        let r = conn.read_head(Duration::from_millis(50)).await;
        assert!(matches!(r, Err(ClientError::Timeout(_))));
    }
}
