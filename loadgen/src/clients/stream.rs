//! HTTP streaming: one `GET /stream/{topic}?since=N` whose chunked body is read as it arrives
//! (an XHR at `readyState 3`). The body is newline-delimited JSON, split into lines wherever
//! chunks and reads end; empty lines are heartbeats. When the stream ends or fails, the client
//! reconnects with `since` = the id of the last message it received. Over HTTP/2 the GET is
//! a stream of the client's shared connection, read the same way ([`answer`]).
//!
//! Other targets' framings (the profile's): one raw payload per line (`ndjson`), a JSON
//! envelope per line (`json-envelope(FIELD)`), or one raw payload per HTTP chunk
//! (`raw-chunks`, nchan's http-chunked: the chunk boundary is the only delimiter).

use super::answer;
use super::framing::Reader;
use super::idle::Stop;
use super::ndjson::LineSplitter;
use super::{Client, ClientError, MAX_MESSAGE};
use crate::profile::{Cursor, Framing};

pub(super) async fn run(c: &mut Client) {
    let mut since = c.spec.since.to_string();
    while !c.shutdown.is_cancelled() {
        match session(c, &mut since).await {
            Ok(()) => return,
            Err(e) => {
                if c.forgets_cursor() {
                    // Classic: the page reopens the URL it started with, without a cursor.
                    since = c.spec.since.to_string();
                }
                let wait = c.failed(&e);
                if !c.pause(wait).await {
                    return;
                }
            }
        }
    }
}

async fn session(c: &mut Client, since: &mut String) -> Result<(), ClientError> {
    let path = c.path_at(since);
    let mut headers = vec![("Accept", "*/*")];
    headers.extend(c.extra_headers());
    let request = answer::prepare(c, &path, &headers)?;
    let (head, mut body) = answer::send(c, request).await?;
    if let Some(e) = head.status_error() {
        return Err(e);
    }
    let chunks = c.sub.framing == Framing::RawChunks;
    if chunks {
        let Some(d) = body.chunked() else {
            return Err(ClientError::Protocol(
                "the profile's raw-chunks framing needs a chunked HTTP/1.1 answer".into(),
            ));
        };
        d.mark_chunk_ends();
    }
    c.succeeded();
    let mut lines = LineSplitter::new(MAX_MESSAGE);
    let mut chunk = Vec::new();
    let Client {
        spec,
        rec,
        shutdown,
        sink,
        sub,
        ..
    } = c;
    let keep_cursor = sub.cursor == Cursor::SinceParam;
    let mut on_line = |line: &[u8]| -> Result<(), ClientError> {
        let mut r = Reader {
            technique: spec.technique,
            rec,
            sink,
        };
        if let Some(id) = r.message(&sub.framing, line).filter(|_| keep_cursor) {
            *since = id;
        }
        Ok(())
    };
    let mut on_bytes = |bytes: &[u8]| -> Result<(), ClientError> {
        if !chunks {
            return lines.feed(bytes, &mut on_line);
        }
        if !bytes.is_empty() {
            if chunk.len() + bytes.len() > MAX_MESSAGE {
                return Err(ClientError::Protocol(format!(
                    "chunk longer than {MAX_MESSAGE} bytes"
                )));
            }
            chunk.extend_from_slice(bytes);
            return Ok(());
        }
        on_line(&chunk)?;
        chunk.clear();
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
