//! HTTP/2 subscribers (`--http 2`): poll, long poll, stream and SSE as requests on HTTP/2
//! streams, K logical clients sharing one connection (`--streams-per-connection`).
//!
//! The techniques are the HTTP/1.1 modules' own (their schedules, cursors, parsers and
//! retries); only the exchange differs. [`get`] sends a GET on a new stream of the client's
//! shared connection ([`H2Pool`]) and waits for the answer's head, which becomes the same
//! [`Head`] an HTTP/1.1 answer has (so a status is an error the same way, a 503's
//! `Retry-After` included); the body is read from the stream by [`H2Body`], which hands the
//! DATA frames to the same parsers and releases their flow-control capacity as it goes.
//! Dropping an [`H2Body`] (a client ending, or leaving a stream after an error) resets the
//! stream (`RST_STREAM CANCEL`), so the server frees its subscriber.

mod body;
mod linger;
mod pool;

pub use body::H2Body;
pub use pool::{CONNECTION_WINDOW, H2Pool, STREAM_WINDOW};

use std::time::{Duration, Instant};

use http::header::{HeaderName, HeaderValue};

use super::http::{Body, Head};
use super::{Client, ClientError};
use crate::technique::Technique;

/// Runs one HTTP/2 client until shutdown: its technique's module, whose exchanges go over
/// HTTP/2 when the transport says so.
pub(super) async fn run(c: &mut Client) {
    let _lease = c
        .spec
        .transport
        .h2
        .as_ref()
        .and_then(|p| p.lease(c.spec.index));
    match c.spec.technique {
        Technique::Poll => super::poll::run(c).await,
        Technique::LongPoll => super::long_poll::run(c).await,
        Technique::Stream => super::stream::run(c).await,
        Technique::Sse => super::sse::run(c).await,
        Technique::Ws => {
            let e = ClientError::Protocol("WebSocket does not run over HTTP/2".into());
            c.rec.error(e.kind());
        }
    }
}

/// How many times in a row one request is sent again after the server refused its stream.
const MAX_REFUSED: u32 = 8;

/// Request fields that HTTP/2 forbids or carries as pseudo-headers: left out of a request.
const CONNECTION_FIELDS: [&str; 6] = [
    "connection",
    "host",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// A GET of `path` on the client's target with `headers` (the same fields an HTTP/1.1
/// request has, less the connection-specific ones).
pub(super) fn request(
    c: &Client,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<http::Request<()>, ClientError> {
    let scheme = if c.spec.transport.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let bad = |what: &str| ClientError::Protocol(format!("cannot make an HTTP/2 request: {what}"));
    let mut b = http::Request::builder()
        .method(http::Method::GET)
        .uri(format!("{scheme}://{}{path}", c.spec.host))
        .version(http::Version::HTTP_2);
    for (name, value) in headers {
        if CONNECTION_FIELDS
            .iter()
            .any(|f| name.eq_ignore_ascii_case(f))
            || (name.eq_ignore_ascii_case("te") && !value.eq_ignore_ascii_case("trailers"))
        {
            continue;
        }
        let name = HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes())
            .map_err(|_| bad(&format!("field name `{name}`")))?;
        let value = HeaderValue::from_str(value).map_err(|_| bad(&format!("`{name}` value")))?;
        b = b.header(name, value);
    }
    b.body(()).map_err(|e| bad(&e.to_string()))
}

/// Sends `req` on a new stream of `c`'s shared connection (opening it if needed, waiting for
/// a free stream if the server's limit is reached) and waits `head_timeout` for the answer's
/// head. Counts the request, and the connect time of a
/// client's first answer (from the request) or of an answer on a connection the client
/// opened for it (from the connect).
pub(super) async fn get(
    c: &mut Client,
    req: http::Request<()>,
    head_timeout: Duration,
) -> Result<(Head, H2Body), ClientError> {
    let t0 = Instant::now();
    let first = !c.answered_once;
    if first {
        c.sink.started = t0;
    }
    let transport = c.spec.transport.clone();
    let pool = transport
        .h2
        .as_ref()
        .ok_or_else(|| ClientError::Protocol("no HTTP/2 connections for this client".into()))?;
    let checkout = pool.checkout(c).await?;
    let mut refused = 0;
    let answer = loop {
        // Waits until this client's handle may send (its previous request left h2's queue);
        // after shutdown it never sends again (it is dropped after its grace). A request
        // beyond the server's SETTINGS_MAX_CONCURRENT_STREAMS then waits in h2's own queue
        // for a stream to end, as a browser's does, within the head's timeout; it counts as
        // sent, so a request still queued when its client is dropped is counted here and never
        // reaches the server.
        let ready = checkout.send.clone().ready();
        let mut send = tokio::select! {
            biased;
            _ = c.shutdown.cancelled() => std::future::pending().await,
            r = ready => r.map_err(|e| retire(&checkout, e))?,
        };
        if refused == 0 {
            c.rec.request();
        }
        let attempt = async {
            // Outer: the connection took no new stream; inner: the stream's answer.
            let (answer, _) = send
                .send_request(copy(&req), true)
                .map_err(|e| retire(&checkout, e))?;
            Ok::<_, ClientError>(answer.await)
        };
        match tokio::time::timeout(head_timeout, attempt).await {
            Ok(Ok(Ok(answer))) => break answer,
            Ok(Err(e)) => return Err(e),
            // Refused unprocessed (sent before the server's limit was known): sent again at
            // once, as browsers do, the same request (not counted again).
            Ok(Ok(Err(e)))
                if e.reason() == Some(h2::Reason::REFUSED_STREAM) && refused < MAX_REFUSED =>
            {
                refused += 1;
            }
            Ok(Ok(Err(e))) => return Err(from_h2(e)),
            Err(_) => return Err(ClientError::Timeout("the answer")),
        }
    };
    if first || checkout.opened {
        c.answered(t0);
        c.answered_once = true;
    }
    let (parts, recv) = answer.into_parts();
    Ok((head_of(&parts), H2Body::new(recv)))
}

/// The connection of `checkout` took no new stream (it is going away, or gone): retired, so
/// that the slot's next client opens another.
fn retire(checkout: &pool::Checkout, e: h2::Error) -> ClientError {
    checkout.retire();
    from_h2(e)
}

/// A copy of `req` (an `http::Request` is not `Clone`), to send again.
fn copy(req: &http::Request<()>) -> http::Request<()> {
    let mut r = http::Request::new(());
    *r.method_mut() = req.method().clone();
    *r.uri_mut() = req.uri().clone();
    *r.version_mut() = req.version();
    *r.headers_mut() = req.headers().clone();
    r
}

/// The [`Head`] of an HTTP/2 answer: its status and the fields the clients use. The body is
/// the stream's ([`H2Body`]), so `body` says nothing (an empty length) and `keep_alive` is
/// always true.
pub(super) fn head_of(parts: &http::response::Parts) -> Head {
    let field = |name: http::header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    Head {
        status: parts.status.as_u16(),
        keep_alive: true,
        body: Body::Length(0),
        retry_after: field(http::header::RETRY_AFTER)
            .and_then(|v| v.trim().parse().ok())
            .map(Duration::from_secs),
        content_type: field(http::header::CONTENT_TYPE),
        etag: field(http::header::ETAG),
        last_modified: field(http::header::LAST_MODIFIED),
    }
}

/// An HTTP/2 error as a client counts it: a socket error as the socket's, the server ending
/// the connection (GOAWAY) or the stream (RST_STREAM) as a close, anything else as a protocol
/// error.
pub(super) fn from_h2(e: h2::Error) -> ClientError {
    if e.is_io() {
        return match e.into_io() {
            Some(io) => ClientError::from_io(io),
            None => ClientError::Closed,
        };
    }
    if e.is_remote() && (e.is_go_away() || e.is_reset()) {
        return ClientError::Closed;
    }
    ClientError::Protocol(format!("HTTP/2: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Recorder;
    use std::sync::Arc;
    use tokio_util::sync::CancellationToken;

    #[test]
    fn a_request_carries_the_fields_http2_allows() {
        let spec = crate::clients::tests::spec(1, 0);
        let rec = Arc::new(Recorder::new(Technique::Sse, 1));
        let c = Client::new(spec, rec, CancellationToken::new());
        let fields = [
            ("Accept", "text/event-stream"),
            ("Last-Event-ID", "42"),
            ("Connection", "keep-alive"),
            ("Host", "elsewhere"),
            ("TE", "gzip"),
            ("te", "trailers"),
            ("X-Profile", "yes"),
        ];
        let r = request(&c, "/sse/t?since=0", &fields).unwrap();
        assert_eq!(r.method(), http::Method::GET);
        assert_eq!(r.uri().to_string(), "http://127.0.0.1:9/sse/t?since=0");
        let names: Vec<&str> = r.headers().keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["accept", "last-event-id", "te", "x-profile"]);
        assert_eq!(r.headers()["last-event-id"], "42");
        assert_eq!(r.headers()["te"], "trailers");
        let bad = request(&c, "/sse/t", &[("X-Bad", "line\nbreak")]);
        assert!(matches!(bad, Err(ClientError::Protocol(_))));
    }

    #[test]
    fn a_head_keeps_status_retry_after_and_validators() {
        let (parts, ()) = http::Response::builder()
            .status(503)
            .header("retry-after", "2")
            .header("content-type", "text/event-stream")
            .header("etag", "\"7\"")
            .body(())
            .unwrap()
            .into_parts();
        let h = head_of(&parts);
        assert_eq!(h.status, 503);
        assert_eq!(h.retry_after, Some(Duration::from_secs(2)));
        assert_eq!(h.content_type.as_deref(), Some("text/event-stream"));
        assert_eq!(h.etag.as_deref(), Some("\"7\""));
        assert!(matches!(
            h.status_error(),
            Some(ClientError::Status {
                status: 503,
                retry_after: Some(d)
            }) if d == Duration::from_secs(2)
        ));
        let (ok, ()) = http::Response::builder()
            .status(200)
            .body(())
            .unwrap()
            .into_parts();
        assert!(head_of(&ok).status_error().is_none());
    }
}
