//! A request-scoped stream over Server-Sent Events: `POST /generate/sse` (or an OpenAI
//! server's `/v1/chat/completions`, [`super::openai`]) with the request's JSON, the answer's
//! `text/event-stream` body read by the WHATWG parser ([`SseParser`]): each `data:` is an
//! event, `data: [DONE]` ends the stream. A stream whose body ends without `[DONE]` failed.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Instant;

use super::plan::{END_GRACE, MAX_EVENT, Plan, expect_type, parse_event, post_request};
use super::recorder::StreamTrack;
use crate::clients::{ClientError, Event, SseParser};
use crate::payload;

/// The end marker of an OpenAI-style event stream.
pub const DONE: &str = "[DONE]";

/// Request `index`: POSTs `body` to `path` and reads its event stream to the end.
pub(super) async fn run(
    p: &Plan,
    index: u64,
    path: &str,
    body: &[u8],
    t: &mut StreamTrack,
) -> Result<(), ClientError> {
    let mut h = p.http(index).await?;
    let request = post_request(&p.path(path), &p.host, "text/event-stream", body);
    t.sent_now();
    p.rec.request();
    h.send(&request, p.read_timeout).await?;
    let head = h.read_head(p.quiet_limit()).await?;
    if let Some(e) = head.status_error() {
        return Err(e);
    }
    expect_type(&head, "text/event-stream")?;
    let mut body = head.body;
    let mut parser = SseParser::new(String::new());
    let done = AtomicBool::new(false);
    let (rr, rec) = (&*p.rr, &*p.rec);
    let mut on_event = |e: Event<'_>| -> Result<(), ClientError> {
        let at = Instant::now();
        if done.load(Relaxed) {
            return Err(ClientError::Protocol("an event after [DONE]".into()));
        }
        if e.data == DONE {
            done.store(true, Relaxed);
            t.done(rr, at);
            return Ok(());
        }
        let meta = parse_event(e.data.as_bytes())?.pushbench;
        t.event(
            rr,
            rec,
            meta.map(|m| m.seq),
            meta.map(|m| m.due_us),
            at,
            payload::now_us(),
        )
        .map_err(|e| ClientError::Protocol(e.to_string()))
    };
    let mut on_bytes = |bytes: &[u8]| {
        parser.feed(bytes, &mut on_event)?;
        if parser.buffered() > MAX_EVENT {
            return Err(ClientError::Protocol(format!(
                "event longer than {MAX_EVENT} bytes"
            )));
        }
        Ok(())
    };
    let quiet = p.quiet_limit();
    loop {
        if done.load(Relaxed) {
            // The end marker came: the response should end at once; not waited for long.
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
    // The body ended without [DONE]: the stream was cut.
    if done.load(Relaxed) {
        Ok(())
    } else {
        Err(ClientError::Closed)
    }
}
