//! Short poll: `GET /poll/{topic}?since=N` answers at once with every retained message after
//! the cursor (possibly none) and the cursor to use next. It never creates a topic.

use std::sync::atomic::Ordering::Relaxed;

use http::{Request, Response};
use hyper::body::Incoming;

use crate::hub::Snapshot;
use crate::metrics::{Counters, Technique};
use crate::request::since;
use crate::response::{BoxBody, json_no_store};
use crate::state::State;

/// Builds the poll / long-poll answer `{"next":..,"messages":[..]}` (plus `"gap"`), and counts
/// delivered messages, gaps and empty responses on `m`.
pub fn answer(snap: &Snapshot, since: u64, m: &Counters) -> Response<BoxBody> {
    // With nothing to give: the cursor (or the newest seq, if smaller); past a gap with
    // nothing retained after it, the newest seq (the client has been told it missed them).
    let next = snap.messages.last().map(|msg| msg.seq).unwrap_or_else(|| {
        snap.gap
            .map_or(since.min(snap.latest), |g| g.first_available - 1)
    });
    let size: usize = snap.messages.iter().map(|msg| msg.json().len() + 1).sum();
    let mut out = Vec::with_capacity(size + 96);
    out.extend_from_slice(format!("{{\"next\":{next},").as_bytes());
    if let Some(gap) = snap.gap {
        out.extend_from_slice(format!("\"gap\":{},", gap.inner_json()).as_bytes());
        m.gaps.fetch_add(1, Relaxed);
    }
    out.extend_from_slice(b"\"messages\":[");
    for (i, msg) in snap.messages.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(msg.json());
    }
    out.extend_from_slice(b"]}");
    if snap.messages.is_empty() {
        m.empty_responses.fetch_add(1, Relaxed);
    }
    m.delivered.fetch_add(snap.messages.len() as u64, Relaxed);
    json_no_store(out)
}

/// `GET /poll/{topic}`.
pub async fn handle(req: &Request<Incoming>, state: &State, topic: &str) -> Response<BoxBody> {
    let since = match since(req) {
        Ok(s) => s,
        Err(e) => return e.response(),
    };
    state.await_cursor(topic, since).await;
    // A short poll never creates a topic: one that does not exist has nothing to give (but a
    // gap for a cursor from an earlier life).
    let snap = state.hub.get(topic).map_or_else(
        || crate::hub::Snapshot::of_missing(since),
        |t| t.since(since),
    );
    answer(&snap, since, state.metrics.of(Technique::Poll))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::Hub;
    use crate::metrics::Metrics;

    #[test]
    fn past_a_gap_with_nothing_retained_the_cursor_moves_to_the_newest_seq() {
        let hub = Hub::new(4, 8, 10);
        let t = hub.topic_unlimited("a");
        t.seed(9);
        let m = Metrics::default();
        let r = answer(&t.since(3), 3, m.of(Technique::Poll));
        let body =
            futures_util::FutureExt::now_or_never(http_body_util::BodyExt::collect(r.into_body()))
                .expect("a full body is ready")
                .expect("infallible")
                .to_bytes();
        assert_eq!(
            &body[..],
            br#"{"next":9,"gap":{"since":3,"first_available":10},"messages":[]}"#
        );
        assert_eq!(m.of(Technique::Poll).gaps.load(Relaxed), 1);
    }
}
