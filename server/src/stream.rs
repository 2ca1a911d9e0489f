//! HTTP streaming: `GET /stream/{topic}?since=N` keeps one chunked response open and writes
//! each message as an NDJSON line (empty lines as heartbeats). HTTP/1.0 clients get a
//! close-delimited body (hyper chooses it).

use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::State;
use crate::counting::ConnCell;
use crate::message::{Message, STREAM_HEARTBEAT};
use crate::metrics::Technique;
use crate::routes::{BoxBody, since};
use crate::subscription::{Subscription, http_body};

/// `GET /stream/{topic}`.
pub fn handle(
    req: &Request<Incoming>,
    state: &State,
    cell: &Arc<ConnCell>,
    topic: &str,
) -> Response<BoxBody> {
    let since = match since(req) {
        Ok(s) => s,
        Err(e) => return e.response(),
    };
    let topic = match state.hub.topic(topic) {
        Ok(t) => t,
        Err(e) => return crate::routes::unavailable(e),
    };
    let (sub, gap) = Subscription::new(state, cell.clone(), topic, since, Technique::Stream);
    let prefix = gap.map(|g| Bytes::from(format!("{}\n", g.object_json())));
    let body = http_body(sub, prefix, Message::ndjson, STREAM_HEARTBEAT);
    streaming_response(body, "application/x-ndjson")
}

/// A `200` streaming response with the no-cache, no-buffering headers.
pub fn streaming_response(body: BoxBody, content_type: &'static str) -> Response<BoxBody> {
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::OK;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    r
}
