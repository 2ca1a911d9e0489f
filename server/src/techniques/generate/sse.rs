//! `POST /generate/sse`: the stream's events as Server-Sent Events, OpenAI-style: per event
//! `id: k` and `data: <chunk json>`, then `data: [DONE]`, then the response ends.

use bytes::Bytes;
use http::Response;

use super::event::Encoder;
use super::{Started, http_body, streaming};
use crate::response::BoxBody;
use crate::state::State;

/// The end marker after the last event.
pub const DONE: &[u8] = b"data: [DONE]\n\n";

/// Event `seq` as an SSE event.
pub fn frame(enc: &Encoder, seq: u64, due_us: u64) -> Bytes {
    let mut out = Vec::with_capacity(enc.size_hint() + 32);
    out.extend_from_slice(format!("id: {seq}\ndata: ").as_bytes());
    enc.write(&mut out, seq, due_us);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

/// Answers an accepted stream.
pub fn respond(state: &State, started: Started) -> Response<BoxBody> {
    streaming(http_body(state, started, frame, DONE), "text/event-stream")
}
