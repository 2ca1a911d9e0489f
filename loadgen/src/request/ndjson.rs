//! A request-scoped stream over chunked NDJSON: `POST /generate/stream` with the request's
//! JSON, the `application/x-ndjson` body split into lines ([`LineSplitter`]), one event per
//! line, `{"done":true}` ending the stream. A body that ends without it was cut.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Instant;

use super::plan::{END_GRACE, MAX_EVENT, Plan, expect_type, parse_event, post_request};
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
    let mut h = p.http(index).await?;
    let request = post_request(
        &p.path("/generate/stream"),
        &p.host,
        "application/x-ndjson",
        body,
    );
    t.sent_now();
    p.rec.request();
    h.send(&request, p.read_timeout).await?;
    let head = h.read_head(p.quiet_limit()).await?;
    if let Some(e) = head.status_error() {
        return Err(e);
    }
    expect_type(&head, "application/x-ndjson")?;
    let mut body = head.body;
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
    loop {
        if done.load(Relaxed) {
            match tokio::time::timeout(END_GRACE, h.read_body(&mut body, quiet, &mut on_bytes))
                .await
            {
                Ok(Ok(true)) => continue,
                Ok(Err(e)) if matches!(e, ClientError::Protocol(_)) => return Err(e),
                _ => return Ok(()),
            }
        }
        if !h.read_body(&mut body, quiet, &mut on_bytes).await? {
            break;
        }
    }
    if done.load(Relaxed) {
        Ok(())
    } else {
        Err(ClientError::Closed)
    }
}
