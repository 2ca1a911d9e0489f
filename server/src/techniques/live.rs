//! An SSE or stream response about to be written: its subscription, what goes first (the
//! retry hint, a gap), its content type and how a gap is announced mid-stream (messages and
//! heartbeats: `Message::streamed`, `message::heartbeat`). hyper writes it
//! as a streaming body ([`Live::into_response`]); the connection's front door writes it
//! itself, so the topic's direct fan-out can take the socket (`front::live`).

use bytes::Bytes;
use http::Response;

use crate::message::Gap;
use crate::metrics::Technique;
use crate::response::{BoxBody, empty, streaming};
use crate::techniques::subscription::{Subscription, http_body};

/// A live SSE or stream response.
#[derive(Debug)]
pub struct Live {
    /// The subscription feeding it.
    pub sub: Subscription,
    /// What goes before the first message (SSE's retry hint, a gap).
    pub prefix: Option<Bytes>,
    /// [`Technique::Sse`] or [`Technique::Stream`].
    pub technique: Technique,
}

impl Live {
    /// A gap announced mid-stream (the fan-out handed the socket back past what the topic
    /// retains).
    pub fn gap(&self, g: &Gap) -> Bytes {
        match self.technique {
            Technique::Stream => Bytes::from(format!("{}\n", g.object_json())),
            _ => g.sse(),
        }
    }

    /// The response's content type.
    pub fn content_type(&self) -> &'static str {
        match self.technique {
            Technique::Stream => "application/x-ndjson",
            _ => "text/event-stream",
        }
    }

    /// What the front door makes of a subscription request: the live response's status and
    /// headers (an empty body: the front door writes the rest) and the response itself, or
    /// the error answer.
    pub fn head_and(r: Result<Live, Response<BoxBody>>) -> (Response<BoxBody>, Option<Live>) {
        match r {
            Ok(live) => (streaming(empty(), live.content_type()), Some(live)),
            Err(resp) => (resp, None),
        }
    }

    /// The answer to a subscription request: the live response, or the error answer.
    pub fn answer(r: Result<Live, Response<BoxBody>>) -> Response<BoxBody> {
        r.map_or_else(|resp| resp, Live::into_response)
    }

    /// The whole response, as a streaming body for hyper.
    pub fn into_response(self) -> Response<BoxBody> {
        let ctype = self.content_type();
        streaming(http_body(self.sub, self.prefix), ctype)
    }
}
