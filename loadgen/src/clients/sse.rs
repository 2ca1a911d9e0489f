//! Server-Sent Events, as `new EventSource(url)` does it: `GET /sse/{topic}?since=N` with
//! `Accept: text/event-stream`, the body parsed by the WHATWG rules ([`SseParser`]), and on
//! disconnect a reconnect after the stream's `retry:` time with `Last-Event-ID` set to the last
//! event ID (the URL, as a browser's, stays the same). `event: gap` is the server's notice of a
//! gap, not a message. Over HTTP/2 each (re)connect is a new stream of the client's shared
//! connection ([`answer`]).

use std::time::Duration;

use super::idle::Stop;
use super::sse_parser::{Event, SseParser};
use super::{Client, ClientError, MAX_MESSAGE, answer, framing};
use crate::profile::Cursor;

/// The reconnection time before the stream sets one (browsers use a few seconds).
const DEFAULT_RETRY: Duration = Duration::from_secs(3);

pub(super) async fn run(c: &mut Client) {
    let mut last_event_id = String::new();
    let mut retry = DEFAULT_RETRY;
    while !c.shutdown.is_cancelled() {
        let mut parser = SseParser::new(last_event_id.clone());
        let result = session(c, &mut parser).await;
        last_event_id = parser.last_event_id().to_string();
        if let Some(ms) = parser.retry_ms() {
            retry = Duration::from_millis(ms);
        }
        let Err(e) = result else { return };
        // The reconnection time after a stream that worked; longer when failures repeat
        // (exponential backoff) or when a 503 asks for it.
        let backoff = c.failed(&e);
        let wait = if c.failures <= 1 && !matches!(e, ClientError::Status { .. }) {
            retry
        } else {
            backoff.max(retry)
        };
        if !c.pause(wait).await {
            return;
        }
    }
}

/// One event-stream connection, until shutdown (`Ok`) or an error (including the end of the
/// stream).
async fn session(c: &mut Client, parser: &mut SseParser) -> Result<(), ClientError> {
    let last_id = parser.last_event_id();
    let path = match c.sub.cursor {
        Cursor::SinceParam if !last_id.is_empty() => c.path_at(last_id),
        _ => c.path_at(&c.spec.since.to_string()),
    };
    let mut headers = vec![
        ("Accept", "text/event-stream"),
        ("Cache-Control", "no-cache"),
    ];
    if c.sub.cursor == Cursor::LastEventId && !last_id.is_empty() {
        headers.push(("Last-Event-ID", last_id));
    }
    headers.extend(c.extra_headers());
    let request = answer::prepare(c, &path, &headers)?;
    let (head, mut body) = answer::send(c, request).await?;
    if let Some(e) = head.status_error() {
        return Err(e);
    }
    let content_type = head.content_type.as_deref().unwrap_or("");
    if !content_type.starts_with("text/event-stream") {
        return Err(ClientError::Protocol(format!(
            "event stream served as `{content_type}`"
        )));
    }
    c.succeeded();
    let Client {
        spec,
        rec,
        shutdown,
        sink,
        ..
    } = c;
    let mut on_event = |e: Event<'_>| -> Result<(), ClientError> {
        if e.event == "gap" {
            rec.gap();
            return Ok(());
        }
        // Counted per event; the connection goes on (as a browser's EventSource does).
        match framing::raw(spec.technique, e.data.as_bytes()) {
            Ok(data) => sink.deliver(data),
            Err(err) => rec.error(err.kind()),
        }
        Ok(())
    };
    let mut on_bytes = |bytes: &[u8]| {
        parser.feed(bytes, &mut on_event)?;
        if parser.buffered() > MAX_MESSAGE {
            return Err(ClientError::Protocol(format!(
                "event longer than {MAX_MESSAGE} bytes"
            )));
        }
        Ok(())
    };
    // Built once, not once a read, and polled only when the token fires (`Stop`).
    let mut stop = Stop::new(shutdown);
    loop {
        let more = tokio::select! {
            biased;
            r = body.read_body(spec.read_timeout, &mut on_bytes) => r?,
            _ = &mut stop => return Ok(()),
        };
        if !more {
            return Err(ClientError::Closed);
        }
    }
}
