//! Responses: the body type every response has (it tells the connection's byte counter when
//! the response ended), and the helpers that build the common answers: a fixed body, a
//! plain-text error, JSON that must not be cached, `503` with `Retry-After`, the last answer
//! on a connection, and the headers of a streaming response.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
use hyper::body::{Frame, SizeHint};

use crate::counting::ResponseDone;

/// A boxed response body.
pub type BoxBody = UnsyncBoxBody<Bytes, io::Error>;

/// Every response body: a boxed body plus the guard marking the end of the response.
pub struct Body {
    inner: BoxBody,
    _done: ResponseDone,
}

impl Body {
    /// `inner`, whose end (when hyper drops it) is reported through `done`.
    pub fn new(inner: BoxBody, done: ResponseDone) -> Body {
        Body { inner, _done: done }
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Body")
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A complete response with a fixed body.
pub fn full(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<BoxBody> {
    let mut r = Response::new(
        Full::new(body.into())
            .map_err(|e| match e {})
            .boxed_unsync(),
    );
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// A plain-text error saying what was wrong.
pub fn error(status: StatusCode, msg: impl Into<String>) -> Response<BoxBody> {
    let mut m = msg.into();
    m.push('\n');
    full(status, "text/plain; charset=utf-8", m)
}

/// A JSON answer that must not be cached.
pub fn json_no_store(body: impl Into<Bytes>) -> Response<BoxBody> {
    let mut r = full(StatusCode::OK, "application/json", body);
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `503` with `Retry-After: 1`: the server cannot do this now (too many topics, a cluster
/// supervisor that does not answer); the body says why.
pub fn unavailable(why: impl std::fmt::Display) -> Response<BoxBody> {
    let mut r = error(StatusCode::SERVICE_UNAVAILABLE, why.to_string());
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

/// Marks `r` as the last answer on its connection (the request body was not read whole).
pub fn closing(mut r: Response<BoxBody>) -> Response<BoxBody> {
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

/// A `200` streaming response with the no-cache, no-buffering headers.
pub fn streaming(body: BoxBody, content_type: &'static str) -> Response<BoxBody> {
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::OK;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    r
}

/// An empty body (the head of a response whose body the front door writes itself).
pub fn empty() -> BoxBody {
    http_body_util::Empty::new()
        .map_err(|e| match e {})
        .boxed_unsync()
}
