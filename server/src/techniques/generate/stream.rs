//! `POST /generate/stream`: the stream's events as NDJSON in one chunked response, one
//! `<chunk json>` line per event, then `{"done":true}`, then the response ends.

use bytes::Bytes;
use http::Response;

use super::event::Encoder;
use super::{Started, http_body, streaming};
use crate::response::BoxBody;
use crate::state::State;

/// The end marker after the last event.
pub const DONE: &[u8] = b"{\"done\":true}\n";

/// Event `seq` as an NDJSON line.
pub fn frame(enc: &Encoder, seq: u64, due_us: u64) -> Bytes {
    let mut out = Vec::with_capacity(enc.size_hint() + 1);
    enc.write(&mut out, seq, due_us);
    out.push(b'\n');
    Bytes::from(out)
}

/// Answers an accepted stream.
pub fn respond(state: &State, started: Started) -> Response<BoxBody> {
    streaming(
        http_body(state, started, frame, DONE),
        "application/x-ndjson",
    )
}
