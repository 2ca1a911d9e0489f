//! The HTTP exchange the HTTP request-mode clients share: a request's POST on a connection of
//! its own ([`post`]; the request counted and the stream's clock started as it is sent), the
//! answer's head checked ([`open_stream`]: status, content type), and a streamed body read to
//! its end ([`read_to_end`]: the end marker, then the body's own end, not waited for long).

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Duration;

use super::plan::{END_GRACE, Plan};
use super::recorder::StreamTrack;
use crate::clients::{Body, ClientError, Head, HttpConn};
use crate::net::CountingStream;

/// A connection of the load generator's, counting its bytes.
pub type Conn = HttpConn<CountingStream>;

/// Request `index` on a connection of its own: POSTs the JSON `body` to `path` (accepting
/// `accept`), counting the request and starting the stream's clock as it is sent.
pub async fn post(
    p: &Plan,
    index: u64,
    path: &str,
    accept: &str,
    body: &[u8],
    t: &mut StreamTrack,
) -> Result<Conn, ClientError> {
    let mut h = p.http(index).await?;
    let request = post_request(&p.path(path), &p.host, accept, body);
    t.sent_now();
    p.rec.request();
    h.send(&request, p.read_timeout).await?;
    Ok(h)
}

/// [`post`], then the answer's head: an error status, or a body not served as `accept`, is an
/// error. Returns the connection and the body still to read.
pub async fn open_stream(
    p: &Plan,
    index: u64,
    path: &str,
    accept: &str,
    body: &[u8],
    t: &mut StreamTrack,
) -> Result<(Conn, Body), ClientError> {
    let mut h = post(p, index, path, accept, body, t).await?;
    let head = h.read_head(p.quiet_limit()).await?;
    if let Some(e) = head.status_error() {
        return Err(e);
    }
    expect_type(&head, accept)?;
    Ok((h, head.body))
}

/// Reads a streamed body through `on_bytes` (which sets `done` when the end marker comes) to
/// its end, `quiet` at most between two reads. After the end marker the body should end at
/// once: it is waited for [`END_GRACE`] at most (only a protocol error then still counts). A
/// body that ends before the end marker was cut: [`ClientError::Closed`].
pub async fn read_to_end<F>(
    h: &mut Conn,
    body: &mut Body,
    quiet: Duration,
    done: &AtomicBool,
    on_bytes: &mut F,
) -> Result<(), ClientError>
where
    F: FnMut(&[u8]) -> Result<(), ClientError>,
{
    loop {
        if done.load(Relaxed) {
            match tokio::time::timeout(END_GRACE, h.read_body(body, quiet, on_bytes)).await {
                Ok(Ok(true)) => continue,
                Ok(Err(e)) if matches!(e, ClientError::Protocol(_)) => return Err(e),
                _ => return Ok(()),
            }
        }
        if !h.read_body(body, quiet, on_bytes).await? {
            break;
        }
    }
    if done.load(Relaxed) {
        Ok(())
    } else {
        Err(ClientError::Closed)
    }
}

/// A POST of a JSON `body` to `path`.
pub fn post_request(path: &str, host: &str, accept: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nAccept: {accept}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// Whether an HTTP answer's `Content-Type` starts with `want`.
pub fn expect_type(head: &Head, want: &str) -> Result<(), ClientError> {
    let got = head.content_type.as_deref().unwrap_or("");
    if got.starts_with(want) {
        return Ok(());
    }
    Err(ClientError::Protocol(format!(
        "answer served as `{got}`, not {want}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_bytes() {
        let r = post_request("/generate/sse", "h:1", "text/event-stream", b"{}");
        assert_eq!(
            r,
            b"POST /generate/sse HTTP/1.1\r\nHost: h:1\r\nAccept: text/event-stream\r\n\
              Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        );
    }
}
