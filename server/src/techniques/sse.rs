//! Server-Sent Events: `GET /sse/{topic}` answers `text/event-stream`, starts with a `retry:`
//! hint, announces a gap as `event: gap`, then sends one event per message (`id:` = seq) and
//! `: hb` comments as heartbeats. Resumes from `Last-Event-ID`, else `?since=N`.

use std::sync::Arc;

use bytes::BytesMut;
use http::{Request, Response, StatusCode};

use crate::counting::ConnCell;
use crate::message::sse_retry;
use crate::metrics::Technique;
use crate::request::{parse_u64, since};
use crate::response::{BoxBody, error, unavailable};
use crate::state::State;
use crate::techniques::live::Live;
use crate::techniques::subscription::Subscription;

/// The reconnection delay suggested to EventSource clients, in ms.
pub const RETRY_MS: u64 = 2000;

/// `GET /sse/{topic}`.
pub async fn handle<B>(
    req: &Request<B>,
    state: &State,
    cell: &Arc<ConnCell>,
    topic: &str,
) -> Response<BoxBody> {
    Live::answer(subscribe(req, state, cell, topic).await)
}

/// `GET /sse/{topic}` up to its subscription: the response to write, or the error answer.
pub async fn subscribe<B>(
    req: &Request<B>,
    state: &State,
    cell: &Arc<ConnCell>,
    topic: &str,
) -> Result<Live, Response<BoxBody>> {
    let since = match req.headers().get("last-event-id") {
        Some(v) => match v.to_str() {
            Ok(s) => parse_u64("Last-Event-ID", s.trim()).map_err(|e| e.response())?,
            Err(_) => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "bad Last-Event-ID: not text",
                ));
            }
        },
        None => since(req).map_err(|e| e.response())?,
    };
    state.await_cursor(topic, since).await;
    let topic = state.hub.topic(topic).map_err(unavailable)?;
    let (sub, gap) = Subscription::new(state, cell.clone(), topic, since, Technique::Sse);
    let mut prefix = BytesMut::from(&sse_retry(RETRY_MS)[..]);
    if let Some(g) = gap {
        prefix.extend_from_slice(&g.sse());
    }
    Ok(Live {
        sub,
        prefix: Some(prefix.freeze()),
        technique: Technique::Sse,
    })
}
