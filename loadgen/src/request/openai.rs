//! `--profile openai`: the request of any OpenAI-compatible server that streams chat
//! completions: `POST {target}/v1/chat/completions` with `{"model", "stream": true,
//! "messages": [...], "max_tokens": events}` ([`super::plan::Plan::body`]), read as an event
//! stream until `data: [DONE]` ([`super::sse`]). Its chunks carry no due time nor sequence
//! number: lateness is not measured, events are numbered as they arrive, and a stream that
//! ends with `[DONE]` lost nothing (only a cut stream loses what it asked for and did not get).

use super::plan::Plan;
use super::recorder::StreamTrack;
use crate::clients::ClientError;

/// The chat-completions endpoint, below the target URL.
pub const PATH: &str = "/v1/chat/completions";

/// Request `index`: one streamed chat completion.
pub(super) async fn run(
    p: &Plan,
    index: u64,
    body: &[u8],
    t: &mut StreamTrack,
) -> Result<(), ClientError> {
    super::sse::run(p, index, PATH, body, t).await
}
