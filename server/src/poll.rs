//! Short poll: `GET /poll/{topic}?since=N` answers at once with every retained message after
//! the cursor (possibly none) and the cursor to use next. It never creates a topic.

use std::sync::atomic::Ordering::Relaxed;

use http::{Request, Response};
use hyper::body::Incoming;

use crate::State;
use crate::hub::Snapshot;
use crate::metrics::{Counters, Technique};
use crate::routes::{BoxBody, json_no_store, since};

/// Builds the poll / long-poll answer `{"next":..,"messages":[..]}` (plus `"gap"`), and counts
/// delivered messages, gaps and empty responses on `m`.
pub fn answer(snap: &Snapshot, since: u64, m: &Counters) -> Response<BoxBody> {
    let next = snap
        .messages
        .last()
        .map(|msg| msg.seq)
        .unwrap_or(since.min(snap.latest));
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
pub fn handle(req: &Request<Incoming>, state: &State, topic: &str) -> Response<BoxBody> {
    let since = match since(req) {
        Ok(s) => s,
        Err(e) => return e.response(),
    };
    // A short poll never creates a topic: one that does not exist has nothing to give.
    let snap = state
        .hub
        .get(topic)
        .map(|t| t.since(since))
        .unwrap_or_default();
    answer(&snap, since, state.metrics.of(Technique::Poll))
}
