//! HTTP streaming: `GET /stream/{topic}?since=N` keeps one chunked response open and writes
//! each message as an NDJSON line (empty lines as heartbeats). HTTP/1.0 clients get a
//! close-delimited body.

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};

use crate::counting::ConnCell;
use crate::message::{Message, STREAM_HEARTBEAT};
use crate::metrics::Technique;
use crate::request::since;
use crate::response::{BoxBody, streaming, unavailable};
use crate::state::State;
use crate::techniques::subscription::{Subscription, http_body};

/// `GET /stream/{topic}`.
pub async fn handle<B>(
    req: &Request<B>,
    state: &State,
    cell: &Arc<ConnCell>,
    topic: &str,
) -> Response<BoxBody> {
    let since = match since(req) {
        Ok(s) => s,
        Err(e) => return e.response(),
    };
    state.await_cursor(topic, since).await;
    let topic = match state.hub.topic(topic) {
        Ok(t) => t,
        Err(e) => return unavailable(e),
    };
    let (sub, gap) = Subscription::new(state, cell.clone(), topic, since, Technique::Stream);
    let prefix = gap.map(|g| Bytes::from(format!("{}\n", g.object_json())));
    let body = http_body(sub, prefix, Message::ndjson, STREAM_HEARTBEAT);
    streaming(body, "application/x-ndjson")
}
