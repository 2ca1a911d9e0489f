//! A request-scoped stream over Server-Sent Events: `POST /generate/sse` (or an OpenAI
//! server's `/v1/chat/completions`, [`super::openai`]) with the request's JSON, the answer's
//! `text/event-stream` body read by the WHATWG parser ([`SseParser`]): each `data:` is an
//! event, `data: [DONE]` ends the stream. A stream whose body ends without `[DONE]` failed.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::Instant;

use super::exchange::{open_stream, read_to_end};
use super::plan::{MAX_EVENT, Plan, parse_event};
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
    let (mut h, mut body) = open_stream(p, index, path, "text/event-stream", body, t).await?;
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
    // A body that ends without [DONE] was cut.
    let quiet = p.quiet_limit();
    read_to_end(&mut h, &mut body, quiet, &done, &mut on_bytes).await
}
