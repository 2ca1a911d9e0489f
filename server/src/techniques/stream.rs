//! HTTP streaming: `GET /stream/{topic}?since=N` keeps one chunked response open and writes
//! each message as an NDJSON line (empty lines as heartbeats). HTTP/1.0 clients get a
//! close-delimited body.

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};

use crate::counting::ConnCell;
use crate::metrics::Technique;
use crate::request::since;
use crate::response::{BoxBody, unavailable};
use crate::state::State;
use crate::techniques::live::Live;
use crate::techniques::subscription::Subscription;

/// `GET /stream/{topic}`.
pub async fn handle<B>(
    req: &Request<B>,
    state: &State,
    cell: &Arc<ConnCell>,
    topic: &str,
) -> Response<BoxBody> {
    Live::answer(subscribe(req, state, cell, topic).await)
}

/// `GET /stream/{topic}` up to its subscription: the response to write, or the error answer.
pub async fn subscribe<B>(
    req: &Request<B>,
    state: &State,
    cell: &Arc<ConnCell>,
    topic: &str,
) -> Result<Live, Response<BoxBody>> {
    let since = since(req).map_err(|e| e.response())?;
    state.await_cursor(topic, since).await;
    let topic = state.hub.topic(topic).map_err(unavailable)?;
    let (sub, gap) = Subscription::new(state, cell.clone(), topic, since, Technique::Stream);
    let prefix = gap.map(|g| Bytes::from(format!("{}\n", g.object_json())));
    Ok(Live {
        sub,
        prefix,
        technique: Technique::Stream,
    })
}
