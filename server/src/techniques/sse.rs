//! Server-Sent Events: `GET /sse/{topic}` answers `text/event-stream`, starts with a `retry:`
//! hint, announces a gap as `event: gap`, then sends one event per message (`id:` = seq) and
//! `: hb` comments as heartbeats. Resumes from `Last-Event-ID`, else `?since=N`.

use std::sync::Arc;

use bytes::BytesMut;
use http::{Request, Response, StatusCode};

use crate::counting::ConnCell;
use crate::message::{Message, SSE_HEARTBEAT, sse_retry};
use crate::metrics::Technique;
use crate::request::{parse_u64, since};
use crate::response::{BoxBody, error, streaming, unavailable};
use crate::state::State;
use crate::techniques::subscription::{Subscription, http_body};

/// The reconnection delay suggested to EventSource clients, in ms.
pub const RETRY_MS: u64 = 2000;

/// `GET /sse/{topic}`.
pub async fn handle<B>(
    req: &Request<B>,
    state: &State,
    cell: &Arc<ConnCell>,
    topic: &str,
) -> Response<BoxBody> {
    let since = match req.headers().get("last-event-id") {
        Some(v) => match v.to_str() {
            Ok(s) => match parse_u64("Last-Event-ID", s.trim()) {
                Ok(n) => n,
                Err(e) => return e.response(),
            },
            Err(_) => return error(StatusCode::BAD_REQUEST, "bad Last-Event-ID: not text"),
        },
        None => match since(req) {
            Ok(s) => s,
            Err(e) => return e.response(),
        },
    };
    state.await_cursor(topic, since).await;
    let topic = match state.hub.topic(topic) {
        Ok(t) => t,
        Err(e) => return unavailable(e),
    };
    let (sub, gap) = Subscription::new(state, cell.clone(), topic, since, Technique::Sse);
    let mut prefix = BytesMut::from(&sse_retry(RETRY_MS)[..]);
    if let Some(g) = gap {
        prefix.extend_from_slice(&g.sse());
    }
    let body = http_body(sub, Some(prefix.freeze()), Message::sse, SSE_HEARTBEAT);
    streaming(body, "text/event-stream")
}
