//! HTTP streaming: one `GET /stream/{topic}?since=N` whose chunked body is read as it arrives
//! (an XHR at `readyState 3`). The body is newline-delimited JSON, split into lines wherever
//! chunks and reads end; empty lines are heartbeats. When the stream ends or fails, the client
//! reconnects with `since` = the id of the last message it received.

use super::http::get_request;
use super::ndjson::LineSplitter;
use super::wire::{Item, parse_item};
use super::{Client, ClientError, HttpConn, MAX_MESSAGE};

pub(super) async fn run(c: &mut Client) {
    let mut since = c.spec.since;
    while !c.shutdown.is_cancelled() {
        match session(c, &mut since).await {
            Ok(()) => return,
            Err(e) => {
                let wait = c.failed(&e);
                if !c.pause(wait).await {
                    return;
                }
            }
        }
    }
}

/// One streaming connection, until shutdown (`Ok`) or an error (including the end of the
/// stream, which should not end).
async fn session(c: &mut Client, since: &mut u64) -> Result<(), ClientError> {
    let (s, t0) = c.open().await?;
    let mut h = HttpConn::new(s);
    let path = format!("{}?since={since}", c.path());
    let request = get_request(&path, &c.spec.host, &[("Accept", "*/*")]);
    c.rec.request();
    h.send(&request, c.spec.read_timeout).await?;
    let head = h.read_head(c.spec.read_timeout).await?;
    c.answered(t0);
    if let Some(e) = head.status_error() {
        return Err(e);
    }
    c.succeeded();
    let mut body = head.body;
    let mut lines = LineSplitter::new(MAX_MESSAGE);
    let Client {
        spec,
        rec,
        shutdown,
        sink,
        ..
    } = c;
    let mut on_line = |line: &[u8]| -> Result<(), ClientError> {
        match parse_item(line) {
            Ok(Item::Message(m)) => {
                sink.deliver(&m.data);
                *since = m.id;
            }
            Ok(Item::Gap(_)) => {}
            // One bad line is counted; the stream goes on.
            Err(e) => rec.error(ClientError::from(e).kind()),
        }
        Ok(())
    };
    let mut on_bytes = |bytes: &[u8]| lines.feed(bytes, &mut on_line);
    loop {
        let more = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            r = h.read_body(&mut body, spec.read_timeout, &mut on_bytes) => r?,
        };
        if !more {
            return Err(ClientError::Closed);
        }
    }
}
