//! Request-scoped streams (issue 16; docs/PROTOCOL.md, "Request-scoped streams: /generate"):
//! one client asks, the server answers that client alone with N events paced on an open
//! schedule, like a chat completion streamed token by token, over SSE, NDJSON streaming,
//! WebSocket or long poll. Each endpoint is counted in its technique's counters, plus the
//! technique's `generate` counters.
//!
//! - `request`: the JSON body into a [`request::GenerateSpec`], or the one-line reason of a `400`.
//! - `schedule`: the due times; `pace`: sleeping until them, the stall aid, shutdown, counters.
//! - `event`: the `chat.completion.chunk` bytes of an event.
//! - `sse`, `stream`, `ws`, `long_poll`: the endpoints (`long_poll` holds the registry of
//!   streams a client polls).

pub mod event;
pub mod long_poll;
pub mod pace;
pub mod request;
pub mod schedule;
pub mod sse;
pub mod stream;
pub mod ws;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use tokio::time::Instant;

use crate::metrics::Technique;
use crate::request::read_body;
use crate::response::{BoxBody, error};
use crate::state::State;
use event::Encoder;
use pace::{Pacer, Step, Tally};
use request::{GenerateSpec, MAX_BODY_BYTES, SpecError};
use schedule::{Schedule, random_seed, wall_us};

pub use long_poll::Registry;

/// A `/generate` endpoint (the path below `/generate/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint<'a> {
    /// `POST /generate/sse`.
    Sse,
    /// `POST /generate/stream`.
    Stream,
    /// `GET /generate/ws`.
    Ws,
    /// `POST /generate/long-poll`: starts a stream to poll.
    LongPoll,
    /// `GET /generate/long-poll/{id}`.
    Poll(&'a str),
}

impl Endpoint<'_> {
    /// The endpoint of `rest`, the path after `/generate/`.
    pub fn parse(rest: &str) -> Option<Endpoint<'_>> {
        Some(match rest {
            "sse" => Endpoint::Sse,
            "stream" => Endpoint::Stream,
            "ws" => Endpoint::Ws,
            "long-poll" => Endpoint::LongPoll,
            _ => Endpoint::Poll(
                rest.strip_prefix("long-poll/")
                    .filter(|id| !id.is_empty())?,
            ),
        })
    }

    /// The technique it is counted in.
    pub fn counted_as(self) -> Technique {
        match self {
            Endpoint::Sse => Technique::Sse,
            Endpoint::Stream => Technique::Stream,
            Endpoint::Ws => Technique::Ws,
            Endpoint::LongPoll | Endpoint::Poll(_) => Technique::LongPoll,
        }
    }

    /// The method it takes.
    pub fn method(self) -> Method {
        match self {
            Endpoint::Ws | Endpoint::Poll(_) => Method::GET,
            _ => Method::POST,
        }
    }
}

/// Serves a request to `endpoint` (its method already checked).
pub async fn handle(
    endpoint: Endpoint<'_>,
    req: Request<Incoming>,
    state: &State,
) -> Response<BoxBody> {
    let technique = endpoint.counted_as();
    match endpoint {
        Endpoint::Ws => return ws::handle(req, state).await,
        Endpoint::Poll(id) => return long_poll::poll(&req, state, id).await,
        Endpoint::Sse | Endpoint::Stream | Endpoint::LongPoll => {}
    }
    let spec = match read_spec(req, state).await {
        Ok(spec) => spec,
        Err(refusal) => {
            // A 408 or 503 (the body late, or over the body budget) is not the body's fault.
            if refusal.status() == StatusCode::BAD_REQUEST {
                pace::bad_request(&state.metrics, technique);
            }
            return refusal;
        }
    };
    let started = Started::new(state, spec, technique);
    match endpoint {
        Endpoint::Sse => sse::respond(state, started),
        Endpoint::Stream => stream::respond(state, started),
        _ => long_poll::start(state, started),
    }
}

/// A stream just accepted: its spec, schedule, event encoder and counters.
#[derive(Debug)]
pub struct Started {
    /// Its id (`[0-9-]`; events say `gen-<id>`).
    pub id: String,
    /// What was asked.
    pub spec: GenerateSpec,
    /// The due times.
    pub schedule: Schedule,
    /// The instant it was accepted (the schedule's start).
    pub anchor: Instant,
    /// Writes its events.
    pub encoder: Encoder,
    /// Its place in the `generate` counters.
    pub tally: Tally,
}

impl Started {
    /// Accepts a stream of `spec` now, counted in `technique`.
    pub fn new(state: &State, spec: GenerateSpec, technique: Technique) -> Started {
        // The wall clock first: the anchor is then read at or after `start_us`, so an instant
        // mapped from a due time is never before it (never early, by the clock either).
        let start_us = wall_us();
        let anchor = Instant::now();
        let id = state.generate.next_id();
        let seed = spec.seed.unwrap_or_else(random_seed);
        Started {
            schedule: Schedule::new(&spec, start_us, seed),
            encoder: Encoder::new(&id, start_us, spec.events, spec.event_bytes),
            tally: Tally::start(state.metrics.clone(), technique),
            anchor,
            spec,
            id,
        }
    }

    /// Its pacer and the rest.
    pub fn pacer(self, state: &State) -> (Pacer, Encoder, Tally) {
        let pacer = Pacer::new(state, &self.spec, self.schedule, self.anchor);
        (pacer, self.encoder, self.tally)
    }
}

/// The `400` for a refused body.
pub fn refuse(e: &SpecError) -> Response<BoxBody> {
    error(StatusCode::BAD_REQUEST, e.to_string())
}

/// Reads and parses the request body (at most 64 KiB), or the answer refusing it.
async fn read_spec(
    req: Request<Incoming>,
    state: &State,
) -> Result<GenerateSpec, Response<BoxBody>> {
    let mut lease = state.body_budget.lease();
    let too_large = || refuse(&SpecError::TooLarge);
    let body = read_body(req, state, MAX_BODY_BYTES, &mut lease, too_large).await?;
    GenerateSpec::parse(&body, state.args.max_payload_bytes as u64).map_err(|e| refuse(&e))
}

/// A streaming body of a stream's events: each framed by `frame`, then `end` after the last
/// one. It ends early (without `end`) on shutdown; dropped (the client left), it stops pacing.
pub fn http_body(
    state: &State,
    started: Started,
    frame: fn(&Encoder, u64, u64) -> Bytes,
    end: &'static [u8],
) -> BoxBody {
    use http_body_util::BodyExt;
    use hyper::body::Frame;
    let (pacer, encoder, tally) = started.pacer(state);
    let frames =
        futures_util::stream::unfold(Some((pacer, encoder, tally)), move |parts| async move {
            let (mut pacer, encoder, mut tally) = parts?;
            match pacer.next().await {
                Step::Event { seq, due_us } => {
                    tally.sent(1);
                    let f = frame(&encoder, seq, due_us);
                    Some((Ok(Frame::data(f)), Some((pacer, encoder, tally))))
                }
                Step::Done => {
                    tally.complete();
                    Some((Ok(Frame::data(Bytes::from_static(end))), None))
                }
                Step::Shutdown => None,
            }
        });
    http_body_util::StreamBody::new(frames).boxed_unsync()
}

/// A `200` streaming response of `content_type` with the no-cache, no-buffering headers.
pub fn streaming(body: BoxBody, content_type: &'static str) -> Response<BoxBody> {
    let mut r = crate::response::streaming(body, content_type);
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache"),
    );
    r
}
