//! A request-scoped stream over chunked NDJSON: `POST /generate/stream` with the request's
//! JSON, the `application/x-ndjson` body split into lines ([`LineSplitter`]), one event per
//! line, `{"done":true}` ending the stream. A body that ends without it was cut.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Instant;

use super::exchange::{open_stream, read_to_end};
use super::plan::{MAX_EVENT, Plan, parse_event};
use super::recorder::StreamTrack;
use crate::clients::{ClientError, LineSplitter};
use crate::payload;

/// Request `index`: POSTs `body` and reads its lines to the end marker.
pub(super) async fn run(
    p: &Plan,
    index: u64,
    body: &[u8],
    t: &mut StreamTrack,
) -> Result<(), ClientError> {
    let (mut h, mut body) = open_stream(
        p,
        index,
        "/generate/stream",
        "application/x-ndjson",
        body,
        t,
    )
    .await?;
    let mut lines = LineSplitter::new(MAX_EVENT);
    let done = AtomicBool::new(false);
    let (rr, rec) = (&*p.rr, &*p.rec);
    let mut on_line = |line: &[u8]| -> Result<(), ClientError> {
        let at = Instant::now();
        if done.load(Relaxed) {
            return Err(ClientError::Protocol("a line after the end marker".into()));
        }
        let w = parse_event(line)?;
        if w.done {
            done.store(true, Relaxed);
            t.done(rr, at);
            return Ok(());
        }
        let Some(m) = w.pushbench else {
            return Err(ClientError::Protocol("an event without `pushbench`".into()));
        };
        t.event(rr, rec, Some(m.seq), Some(m.due_us), at, payload::now_us())
            .map_err(|e| ClientError::Protocol(e.to_string()))
    };
    let mut on_bytes = |bytes: &[u8]| lines.feed(bytes, &mut on_line);
    let quiet = p.quiet_limit();
    read_to_end(&mut h, &mut body, quiet, &done, &mut on_bytes).await
}
