//! Long poll: `GET /long-poll/{topic}?since=N[&timeout=MS]` holds the request until a message
//! after the cursor exists or the timeout passes, then answers like a short poll (batched).
//! A waiter holds only a broadcast receiver, its timer and the shutdown watch.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use http::{Request, Response};
use tokio::sync::broadcast::error::RecvError;

use crate::metrics::Technique;
use crate::request::{parse_u64, query_param, since};
use crate::response::{BoxBody, unavailable};
use crate::state::State;
use crate::techniques::poll::answer;

/// Largest `?timeout=` accepted, in ms (larger values are clamped).
pub const MAX_TIMEOUT_MS: u64 = 300_000;

/// `GET /long-poll/{topic}`.
pub async fn handle<B>(req: Request<B>, state: &State, topic: &str) -> Response<BoxBody> {
    let since = match since(&req) {
        Ok(s) => s,
        Err(e) => return e.response(),
    };
    let timeout = match query_param(&req, "timeout") {
        None => state.args.long_poll_timeout,
        Some(v) => match parse_u64("timeout", v) {
            Ok(ms) => Duration::from_millis(ms.clamp(1, MAX_TIMEOUT_MS)),
            Err(e) => return e.response(),
        },
    };
    drop(req);
    state.await_cursor(topic, since).await;
    let m = state.metrics.of(Technique::LongPoll);
    let topic = match state.hub.topic(topic) {
        Ok(t) => t,
        Err(e) => return unavailable(e),
    };
    let (mut rx, snap) = topic.subscribe(since);
    if !snap.messages.is_empty() || snap.gap.is_some() {
        return answer(&snap, since, m);
    }
    let mut signals = state.signals.subscribe();
    let sleep = tokio::time::sleep(timeout);
    tokio::pin!(sleep);
    let timed_out = loop {
        tokio::select! {
            r = rx.recv() => match r {
                Ok(msg) if msg.seq <= since => continue,
                Ok(_) | Err(RecvError::Lagged(_)) | Err(RecvError::Closed) => break false,
            },
            _ = &mut sleep => break true,
            r = signals.changed() => {
                if r.is_err() || signals.borrow_and_update().shutdown {
                    break false;
                }
            }
        }
    };
    drop(rx);
    if timed_out {
        m.long_poll_timeouts.fetch_add(1, Relaxed);
    }
    answer(&topic.since(since), since, m)
}
